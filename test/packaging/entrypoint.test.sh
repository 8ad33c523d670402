#!/usr/bin/env bash
# The container entrypoint (packaging/docker-entrypoint.sh) run as the image runs it, but under a temporary root
# (no Docker engine here): first run initialises PostgreSQL in <root>/var/lib/postgresql/data as `postgres`,
# generates <root>/app/data/.auth_secret, starts the platform as an unprivileged user and prints the banner;
# SIGTERM stops everything within 10 s; a restart reuses the database and the secret (a session from the first
# run still works); DATABASE_URL skips the embedded database; informational flags need nothing.
# Usage: entrypoint.test.sh <archestra-platform binary> <plugins dir>
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
source "$here/lib.sh"
BIN="${1:?platform binary}"
PLUGINS="${2:?plugins dir}"
ENTRY="$repo/packaging/docker-entrypoint.sh"

ROOT="$(mktemp -d /tmp/archestra-entrypoint.XXXXXX)"
chmod 0755 "$ROOT"
ENTRY_PID=""
EXTRA_PG_PID=""
cleanup() {
  [[ -n "$ENTRY_PID" ]] && kill -KILL "$ENTRY_PID" 2>/dev/null || true
  [[ -n "$EXTRA_PG_PID" ]] && kill -INT "$EXTRA_PG_PID" 2>/dev/null || true
  # Anything the runs left behind (a failed test must not leave servers running).
  for pidfile in "$ROOT"/var/lib/postgresql/data*/postmaster.pid; do
    [[ -f "$pidfile" ]] && kill -QUIT "$(head -1 "$pidfile")" 2>/dev/null || true
  done
  sleep 0.5
  rm -rf "$ROOT"
}
trap cleanup EXIT

unset ARCHESTRA_DATABASE_URL DATABASE_URL ARCHESTRA_AUTH_SECRET
export PGDATA="$ROOT/var/lib/postgresql/data"
export ARCHESTRA_DATA_DIR="$ROOT/app/data"
export ARCHESTRA_EMBEDDED_PG_RUN_DIR="$ROOT/run/postgresql"
export ARCHESTRA_EMBEDDED_PG_PORT="$(free_port)"
export ARCHESTRA_PLATFORM_BIN="$BIN"
export ARCHESTRA_PLUGINS_DIR="$PLUGINS"
API_PORT="$(free_port)"
export ARCHESTRA_API_BASE_URL="http://localhost:$API_PORT"
export ARCHESTRA_UI_PORT="$(free_port)"
export ARCHESTRA_METRICS_PORT="$(free_port)"
export ARCHESTRA_LISTEN_ADDRESS=127.0.0.1
export ARCHESTRA_ANALYTICS=disabled
# As in the image: root hands the platform to an unprivileged user (the image's `archestra`; `nobody` here).
if [[ "$(id -u)" -eq 0 ]]; then
  export ARCHESTRA_RUN_AS=nobody
  EXPECT_PLATFORM_USER=nobody
  EXPECT_PG_USER=postgres
else
  EXPECT_PLATFORM_USER="$(id -un)"
  EXPECT_PG_USER="$(id -un)"
fi
API="http://127.0.0.1:$API_PORT"

# start_entrypoint LOG: runs the entrypoint in the background and waits for the banner and /ready.
start_entrypoint() {
  local log="$1"
  bash "$ENTRY" >"$log" 2>&1 &
  ENTRY_PID=$!
  local i
  for ((i = 0; i < 1200; i++)); do
    grep -q "Welcome to Archestra" "$log" && break
    kill -0 "$ENTRY_PID" 2>/dev/null || { cat "$log"; fail "entrypoint exited during start-up"; }
    sleep 0.1
  done
  grep -q "Welcome to Archestra" "$log" || { cat "$log"; fail "no banner within 120 s"; }
  wait_status "$API/ready" 200 60 || { cat "$log"; fail "/ready did not turn 200"; }
  [[ "$(http_status "$API/health")" == 200 ]] || fail "/health is not 200"
}

# stop_entrypoint LOG: SIGTERM; everything must be gone within 10 s with exit code 0.
stop_entrypoint() {
  local log="$1" start end code=0
  start=$(date +%s%N)
  kill -TERM "$ENTRY_PID"
  local i
  for ((i = 0; i < 120; i++)); do kill -0 "$ENTRY_PID" 2>/dev/null || break; sleep 0.1; done
  end=$(date +%s%N)
  kill -0 "$ENTRY_PID" 2>/dev/null && { cat "$log"; fail "entrypoint still running 12 s after SIGTERM"; }
  wait "$ENTRY_PID" || code=$?
  ENTRY_PID=""
  local ms=$(((end - start) / 1000000))
  note "stopped in ${ms} ms, exit code $code"
  ((ms <= 10000)) || fail "stop took ${ms} ms (> 10 s)"
  [[ "$code" == 0 ]] || { cat "$log"; fail "exit code $code after SIGTERM"; }
  [[ ! -f "$PGDATA/postmaster.pid" ]] || fail "PostgreSQL left running (postmaster.pid remains)"
  ! grep -q "killing it" "$log" || fail "the platform had to be killed"
}

note "informational flags run the binary directly, creating nothing"
version="$(PGDATA="$ROOT/none/pg" ARCHESTRA_DATA_DIR="$ROOT/none/data" bash "$ENTRY" --version)"
[[ "$version" == *"$("$BIN" --version | head -1)"* ]] || fail "--version through the entrypoint: '$version'"
[[ ! -e "$ROOT/none" ]] || fail "--version created directories"

note "first run: embedded PostgreSQL initialised, auth secret generated, banner, platform up"
start_entrypoint "$ROOT/run1.log"
[[ -s "$PGDATA/PG_VERSION" ]] || fail "no PostgreSQL cluster in $PGDATA"
[[ "$(owner_of "$PGDATA")" == "$EXPECT_PG_USER" ]] || fail "$PGDATA owned by $(owner_of "$PGDATA")"
grep -q "initialising the embedded PostgreSQL" "$ROOT/run1.log" || fail "first run did not initialise"
secret_file="$ARCHESTRA_DATA_DIR/.auth_secret"
[[ -f "$secret_file" ]] || fail "no $secret_file"
[[ "$(stat -c '%a' "$secret_file")" == 600 ]] || fail "$secret_file mode $(stat -c '%a' "$secret_file")"
[[ "$(owner_of "$secret_file")" == "$EXPECT_PLATFORM_USER" ]] || fail "$secret_file owned by $(owner_of "$secret_file")"
[[ "$(cat "$secret_file")" =~ ^[A-Za-z0-9]{64}$ ]] || fail "auth secret is not 64 alphanumerics"
secret1="$(cat "$secret_file")"
postmaster="$(head -1 "$PGDATA/postmaster.pid")"
[[ "$(ps -o user= -p "$postmaster" | tr -d ' ')" == "$EXPECT_PG_USER" ]] || fail "PostgreSQL runs as $(ps -o user= -p "$postmaster")"
platform_pid="$(pgrep -P "$ENTRY_PID" -f "$BIN" | head -1)"
[[ -n "$platform_pid" ]] || fail "no platform process under the entrypoint"
[[ "$(ps -o user= -p "$platform_pid" | tr -d ' ')" == "$EXPECT_PLATFORM_USER" ]] ||
  fail "platform runs as $(ps -o user= -p "$platform_pid")"
grep -q "Admin UI:.*http://localhost:$ARCHESTRA_UI_PORT" "$ROOT/run1.log" || fail "banner lacks the UI URL"
grep -q "API:.*$ARCHESTRA_API_BASE_URL" "$ROOT/run1.log" || fail "banner lacks the API URL"
[[ "$(http_status "http://127.0.0.1:$ARCHESTRA_UI_PORT/health")" == 200 ]] || fail "UI port does not answer"
# PostgreSQL listens on loopback only, with password authentication.
pg_listen="$(ss -ltn "sport = :$ARCHESTRA_EMBEDDED_PG_PORT")"
grep -q "127.0.0.1:$ARCHESTRA_EMBEDDED_PG_PORT" <<<"$pg_listen" || fail "PostgreSQL not on 127.0.0.1"
! grep -q -e "0.0.0.0:$ARCHESTRA_EMBEDDED_PG_PORT" -e "\*:$ARCHESTRA_EMBEDDED_PG_PORT" <<<"$pg_listen" ||
  fail "PostgreSQL listens on all interfaces: $pg_listen"

origin="http://localhost:$API_PORT"
cookie="$(curl -s -D - -o /dev/null -H "origin: $origin" -H 'content-type: application/json' \
  -d '{"email":"admin@localhost.ai","password":"password"}' "$API/api/auth/sign-in/email" |
  sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | paste -sd ';' -)"
[[ -n "$cookie" ]] || fail "sign-in gave no cookie"
[[ "$(http_status "$API/api/teams" -H "cookie: $cookie" -H "origin: $origin")" == 200 ]] || fail "session does not work"
stop_entrypoint "$ROOT/run1.log"

note "restart: same database and secret; the first run's session still works"
start_entrypoint "$ROOT/run2.log"
grep -q "using the existing embedded PostgreSQL" "$ROOT/run2.log" || fail "restart re-initialised the database"
[[ "$(cat "$secret_file")" == "$secret1" ]] || fail "auth secret changed across restart"
[[ "$(http_status "$API/api/teams" -H "cookie: $cookie" -H "origin: $origin")" == 200 ]] ||
  fail "session from the first run rejected after restart"
[[ "$(http_status "$API/api/teams" -H "cookie: x=y" -H "origin: $origin")" == 401 ]] || fail "no-session request not 401"
stop_entrypoint "$ROOT/run2.log"

note "DATABASE_URL: no embedded PostgreSQL, the given database is used"
password="$(cat "$PGDATA/.archestra_db_password")"
if [[ "$EXPECT_PG_USER" != "$(id -un)" ]]; then
  setpriv --reuid=postgres --regid="$(id -g postgres)" --init-groups -- \
    "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/postgres" -D "$PGDATA" -c listen_addresses=127.0.0.1 \
    -c port="$ARCHESTRA_EMBEDDED_PG_PORT" -c unix_socket_directories="$ARCHESTRA_EMBEDDED_PG_RUN_DIR" >"$ROOT/pg.log" 2>&1 &
else
  "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/postgres" -D "$PGDATA" -c listen_addresses=127.0.0.1 \
    -c port="$ARCHESTRA_EMBEDDED_PG_PORT" -c unix_socket_directories="$ARCHESTRA_EMBEDDED_PG_RUN_DIR" >"$ROOT/pg.log" 2>&1 &
fi
EXTRA_PG_PID=$!
external_pgdata="$ROOT/var/lib/postgresql/data-unused"
embedded_pgdata="$PGDATA"
export PGDATA="$external_pgdata"
export DATABASE_URL="postgresql://archestra:${password}@127.0.0.1:${ARCHESTRA_EMBEDDED_PG_PORT}/archestra"
start_entrypoint "$ROOT/run3.log"
grep -q "using the external database from DATABASE_URL" "$ROOT/run3.log" || fail "DATABASE_URL not announced"
[[ ! -e "$external_pgdata" ]] || fail "embedded PostgreSQL initialised despite DATABASE_URL"
[[ "$(http_status "$API/api/teams" -H "cookie: $cookie" -H "origin: $origin")" == 200 ]] ||
  fail "session not found in the external database"
PGDATA="$embedded_pgdata" # stop_entrypoint checks the embedded cluster is not running; the test's own one is
stop_entrypoint_keep_pg() { local saved="$PGDATA"; PGDATA="$external_pgdata"; stop_entrypoint "$@"; PGDATA="$saved"; }
stop_entrypoint_keep_pg "$ROOT/run3.log"
unset DATABASE_URL
kill -INT "$EXTRA_PG_PID"
wait "$EXTRA_PG_PID" 2>/dev/null || true
EXTRA_PG_PID=""
echo "PASS entrypoint: first run, restart, external database, SIGTERM within 10 s"
