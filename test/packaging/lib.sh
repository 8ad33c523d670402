# Shared helpers of the packaging tests (sourced): free ports, HTTP status over curl, waiting, failing loudly.
fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "-- $*"; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# http_status URL [curl args...]: prints the status code (000 when nothing answers).
http_status() {
  local url="$1"; shift
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" "$url" || true
}

# wait_status URL CODE TIMEOUT_S: waits until URL answers CODE.
wait_status() {
  local url="$1" code="$2" timeout_s="$3" i
  for ((i = 0; i < timeout_s * 10; i++)); do
    [[ "$(http_status "$url")" == "$code" ]] && return 0
    sleep 0.1
  done
  return 1
}

# owner_of PATH: user name owning PATH.
owner_of() { stat -c '%U' "$1"; }
