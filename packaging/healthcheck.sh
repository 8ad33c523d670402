#!/usr/bin/env bash
# Container HEALTHCHECK: GET /health on the API port answers 200. Uses bash's /dev/tcp, so the run image needs
# no curl or wget.
set -euo pipefail
# The API listener's port, as the platform reads ARCHESTRA_API_BASE_URL (Settings::apiPort): the URL's explicit
# port, else 9000, whatever the scheme (https://api.example.com behind a proxy still listens on 9000).
api_port() {
  local authority="${1#*://}"
  authority="${authority%%[/?#]*}"
  authority="${authority##*@}"
  if [[ "$authority" =~ :([0-9]+)$ ]]; then echo "${BASH_REMATCH[1]}"; else echo 9000; fi
}
port="${ARCHESTRA_HEALTH_PORT:-$(api_port "${ARCHESTRA_API_BASE_URL:-http://localhost:9000}")}"
# --print-port: the port this check would probe, then exit (the entrypoint's banner and the tests use it).
if [[ "${1:-}" == --print-port ]]; then
  echo "$port"
  exit 0
fi
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
IFS= read -r -t 5 status <&3 || exit 1
[[ "$status" == "HTTP/1."?" 200"* ]]
