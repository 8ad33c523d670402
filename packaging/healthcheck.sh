#!/usr/bin/env bash
# Container HEALTHCHECK: GET /health on the API port answers 200. Uses bash's /dev/tcp, so the run image needs
# no curl or wget.
set -euo pipefail
port="${ARCHESTRA_HEALTH_PORT:-}"
if [[ -z "$port" ]]; then
  url="${ARCHESTRA_API_BASE_URL:-http://localhost:9000}"
  port="$(sed -E 's#^[a-z]+://[^/:]+:?([0-9]*).*#\1#' <<<"$url")"
  [[ -n "$port" ]] || port=80
fi
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
IFS= read -r -t 5 status <&3 || exit 1
[[ "$status" == "HTTP/1."?" 200"* ]]
