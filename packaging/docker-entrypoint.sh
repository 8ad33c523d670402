#!/usr/bin/env bash
# Container entrypoint of archestra/platform: embedded PostgreSQL (when no database URL is given) as the
# `postgres` user, the platform as the unprivileged `archestra` user, a start-up banner, and a clean stop on
# SIGTERM within Docker's 10 s grace period.
#
# Every path and name below can be redirected through the environment so the test suite runs this very script
# under a temporary root (test/packaging/entrypoint.test.sh); the defaults are the image's layout.
set -euo pipefail

PLATFORM_BIN="${ARCHESTRA_PLATFORM_BIN:-/usr/bin/archestra-platform}"
PGDATA="${PGDATA:-/var/lib/postgresql/data}"
PG_RUN_DIR="${ARCHESTRA_EMBEDDED_PG_RUN_DIR:-/run/postgresql}"
PG_PORT="${ARCHESTRA_EMBEDDED_PG_PORT:-5432}"
PG_OS_USER="${ARCHESTRA_EMBEDDED_PG_USER:-postgres}"
RUN_AS="${ARCHESTRA_RUN_AS:-archestra}"
export ARCHESTRA_DATA_DIR="${ARCHESTRA_DATA_DIR:-/app/data}"
# Docker gives 10 s between SIGTERM and SIGKILL; the platform gets most of it, PostgreSQL the rest.
STOP_PLATFORM_S="${ARCHESTRA_STOP_PLATFORM_S:-7}"
STOP_POSTGRES_S="${ARCHESTRA_STOP_POSTGRES_S:-2}"

log() { printf '%s entrypoint: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$*" >&2; }

# Informational flags need neither a database nor a data directory.
for arg in "$@"; do
  case "$arg" in
    --help | -h | --version | --list-plugins) exec "$PLATFORM_BIN" "$@" ;;
  esac
done

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# run_as USER CMD...: as root, drop to USER (setpriv from util-linux, always in Debian); otherwise run as is.
# exec_as is the same for a background job (`exec_as user cmd &`): it replaces the job's subshell, so $! is the
# program itself and signals reach it. The environment is kept (the platform reads its settings from it).
run_as() {
  local user="$1"
  shift
  if is_root && [[ "$user" != root ]]; then
    setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups -- env HOME=/tmp USER="$user" "$@"
  else
    "$@"
  fi
}
exec_as() {
  local user="$1"
  shift
  if is_root && [[ "$user" != root ]]; then
    exec setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups -- env HOME=/tmp USER="$user" "$@"
  fi
  exec "$@"
}

# The platform's user: `archestra` when it exists and we are root; anyone else runs everything as themselves
# (docker run --user ..., Kubernetes runAsUser).
if ! is_root || ! id -u "$RUN_AS" >/dev/null 2>&1; then RUN_AS="$(id -un 2>/dev/null || id -u)"; fi
if ! is_root || ! id -u "$PG_OS_USER" >/dev/null 2>&1; then PG_OS_USER="$(id -un 2>/dev/null || id -u)"; fi

mkdir -p "$ARCHESTRA_DATA_DIR"
if is_root && [[ "$RUN_AS" != root ]]; then chown "$RUN_AS:" "$ARCHESTRA_DATA_DIR"; fi
chmod 0700 "$ARCHESTRA_DATA_DIR" 2>/dev/null || true

pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x "$d/postgres" && -x "$d/initdb" ]] && { echo "$d"; return 0; }
  done
  command -v postgres >/dev/null && dirname "$(command -v postgres)" && return 0
  return 1
}

PG_PID=""
PLATFORM_PID=""
STOPPING=0

start_postgres() {
  exec_as "$PG_OS_USER" "$PG_BIN/postgres" -D "$PGDATA" -c listen_addresses=127.0.0.1 -c port="$PG_PORT" \
    -c unix_socket_directories="$PG_RUN_DIR" -c unix_socket_permissions=0700 &
  PG_PID=$!
  local i
  for ((i = 0; i < 600; i++)); do
    if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; then return 0; fi
    kill -0 "$PG_PID" 2>/dev/null || { log "PostgreSQL exited during start-up (see its log above)"; return 1; }
    sleep 0.1
  done
  log "PostgreSQL did not accept connections within 60 s"
  return 1
}

# Embedded database: only when neither ARCHESTRA_DATABASE_URL nor DATABASE_URL is set (same rule as the
# platform). Data in $PGDATA (the image's volume); password authentication over 127.0.0.1 only, and a
# superuser socket that only the postgres user can open.
if [[ -z "${ARCHESTRA_DATABASE_URL:-}" && -z "${DATABASE_URL:-}" ]]; then
  PG_BIN="$(pg_bindir)" || { log "no PostgreSQL server installed and no DATABASE_URL given"; exit 1; }
  if ! is_root; then
    # Started as an unprivileged user (docker run --user, Kubernetes runAsUser): PostgreSQL runs as that user
    # too, in directories it can write.
    if [[ -d "$PG_RUN_DIR" && ! -w "$PG_RUN_DIR" ]]; then PG_RUN_DIR="${TMPDIR:-/tmp}/archestra-postgresql"; fi
    if [[ -e "$PGDATA" && ! -w "$PGDATA" ]] || [[ ! -e "$PGDATA" && ! -w "$(dirname "$PGDATA")" ]]; then
      log "cannot write $PGDATA as uid $(id -u): start the container as root (the default) for the embedded" \
        "PostgreSQL, give a writable PGDATA, or set DATABASE_URL"
      exit 1
    fi
  fi
  mkdir -p "$PGDATA" "$PG_RUN_DIR"
  if is_root; then chown "$PG_OS_USER:" "$PGDATA" "$PG_RUN_DIR"; fi
  chmod 0700 "$PGDATA"
  password_file="$PGDATA/.archestra_db_password"
  if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    log "initialising the embedded PostgreSQL in $PGDATA"
    run_as "$PG_OS_USER" "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth-local=trust \
      --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
    start_postgres
    password="$(tr -dc 'a-zA-Z0-9' </dev/urandom | head -c 48 || true)"
    run_as "$PG_OS_USER" "$PG_BIN/psql" -q -v ON_ERROR_STOP=1 -h "$PG_RUN_DIR" -p "$PG_PORT" \
      -U postgres -d postgres \
      -c "CREATE ROLE archestra LOGIN PASSWORD '$password'" -c "CREATE DATABASE archestra OWNER archestra" \
      >/dev/null
    (umask 077 && printf '%s' "$password" >"$password_file")
    if is_root; then chown "$PG_OS_USER:" "$password_file"; fi
  else
    log "using the existing embedded PostgreSQL in $PGDATA"
    start_postgres
    password="$(cat "$password_file")"
  fi
  export ARCHESTRA_DATABASE_URL="postgresql://archestra:${password}@127.0.0.1:${PG_PORT}/archestra"
  unset password
else
  log "using the external database from $([[ -n "${ARCHESTRA_DATABASE_URL:-}" ]] && echo ARCHESTRA_DATABASE_URL || echo DATABASE_URL)"
fi

api_url="${ARCHESTRA_API_BASE_URL:-http://localhost:9000}"

banner() {
  local i
  for ((i = 0; i < 1200; i++)); do
    if "$(dirname "$0")/healthcheck.sh" 2>/dev/null; then
      local g=$'\e[32m' b=$'\e[34m' B=$'\e[1m' r=$'\e[0m'
      printf '\n%s%sWelcome to Archestra! <3%s\n\n' "$B" "$g" "$r"
      printf '  %sAdmin UI:%s %s\n' "$B" "$r" "${b}${ARCHESTRA_FRONTEND_URL:-http://localhost:${ARCHESTRA_UI_PORT:-3000}}${r}"
      printf '  %sAPI:%s      %s\n' "$B" "$r" "${b}${api_url}${r}"
      printf '  Auth secret: %s\n\n' \
        "$([[ -n "${ARCHESTRA_AUTH_SECRET:-}" ]] && echo "from ARCHESTRA_AUTH_SECRET" || echo "$ARCHESTRA_DATA_DIR/.auth_secret")"
      return 0
    fi
    kill -0 "$PLATFORM_PID" 2>/dev/null || return 0
    sleep 0.1
  done
}

stop_all() {
  STOPPING=1
  if [[ -n "$PLATFORM_PID" ]] && kill -0 "$PLATFORM_PID" 2>/dev/null; then
    kill -TERM "$PLATFORM_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < STOP_PLATFORM_S * 10; i++)); do kill -0 "$PLATFORM_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$PLATFORM_PID" 2>/dev/null; then
      log "platform still running after ${STOP_PLATFORM_S} s; killing it"
      kill -KILL "$PLATFORM_PID" 2>/dev/null || true
    fi
  fi
  if [[ -n "$PG_PID" ]] && kill -0 "$PG_PID" 2>/dev/null; then
    kill -INT "$PG_PID" 2>/dev/null || true # fast shutdown: abort transactions, checkpoint, exit
    local j
    for ((j = 0; j < STOP_POSTGRES_S * 10; j++)); do kill -0 "$PG_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$PG_PID" 2>/dev/null; then
      kill -QUIT "$PG_PID" 2>/dev/null || true # immediate: recovery on next start, nothing committed lost
    fi
  fi
}

on_signal() {
  log "received $1; stopping"
  stop_all
  local code=0
  if [[ -n "$PLATFORM_PID" ]]; then wait "$PLATFORM_PID" 2>/dev/null || code=$?; fi
  [[ -n "$PG_PID" ]] && wait "$PG_PID" 2>/dev/null || true
  log "stopped (platform exit code $code)"
  exit "$code"
}
trap 'on_signal SIGTERM' TERM
trap 'on_signal SIGINT' INT

exec_as "$RUN_AS" "$PLATFORM_BIN" "$@" &
PLATFORM_PID=$!
banner &

# Supervise: the platform exiting ends the container (the runtime's restart policy decides what next); a
# crashed PostgreSQL is restarted in place, and the platform rides it out (its requests answer 503 meanwhile).
while true; do
  code=0
  if [[ -n "$PG_PID" ]]; then
    wait -n "$PLATFORM_PID" "$PG_PID" || code=$?
  else
    wait "$PLATFORM_PID" || code=$?
  fi
  ((STOPPING)) && continue
  if ! kill -0 "$PLATFORM_PID" 2>/dev/null; then
    wait "$PLATFORM_PID" 2>/dev/null || code=$?
    log "platform exited with code $code"
    stop_all
    exit "$code"
  fi
  if [[ -n "$PG_PID" ]] && ! kill -0 "$PG_PID" 2>/dev/null; then
    log "PostgreSQL exited unexpectedly (code $code); restarting it"
    sleep 1
    start_postgres || { stop_all; exit 1; }
  fi
done
