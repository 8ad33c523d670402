#!/usr/bin/env bash
# The Debian packages: `cpack -G DEB` in this build tree, then checks of both packages' metadata and contents,
# extraction into a throwaway root (dpkg-deb -x) and a real run of the extracted binary: --version,
# --list-plugins (the packaged plugins), and a start on a temporary data directory until /health and /ready.
# As root the run happens in a private mount namespace where the extracted tree is bind-mounted over the
# install prefix and the source tree's migrations are hidden, so the binary finds only what the package put
# there (plugins, migrations, settings file), exactly as on an installed machine.
# Usage: deb.test.sh <build dir>
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
source "$here/lib.sh"
BUILD="$(cd "${1:?build dir}" && pwd)"

WORK="$(mktemp -d /tmp/archestra-deb.XXXXXX)"
PID=""
cleanup() {
  [[ -n "$PID" ]] && kill -KILL "$PID" 2>/dev/null || true
  [[ -f "$WORK/data/postgres/postmaster.pid" ]] && kill -QUIT "$(head -1 "$WORK/data/postgres/postmaster.pid")" 2>/dev/null || true
  sleep 0.3
  rm -rf "$WORK"
}
trap cleanup EXIT

prefix="$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD/CMakeCache.txt")"
version="$(sed -n 's/^ARCHESTRA_VERSION:STRING=//p' "$BUILD/CMakeCache.txt")"
note "cpack (prefix $prefix, version $version)"
(cd "$BUILD" && cpack -G DEB -B "$WORK/out" >"$WORK/cpack.log" 2>&1) || { cat "$WORK/cpack.log"; fail "cpack failed"; }
deb="$(ls "$WORK"/out/archestra-platform_*.deb)"
devdeb="$(ls "$WORK"/out/archestra-platform-dev_*.deb)"
note "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB), $(basename "$devdeb")"

# Metadata: names, version, dependencies from dpkg-shlibdeps, maintainer scripts.
[[ "$(dpkg-deb -f "$deb" Package)" == archestra-platform ]] || fail "package name"
[[ "$(dpkg-deb -f "$deb" Version)" == "$version" ]] || fail "package version $(dpkg-deb -f "$deb" Version)"
depends="$(dpkg-deb -f "$deb" Depends)"
for lib in libpocofoundation libpq5 libssl3; do
  [[ "$depends" == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
done
[[ "$(dpkg-deb -f "$devdeb" Package)" == archestra-platform-dev ]] || fail "dev package name"
# Listed into a variable first: `tar -t | grep -q` under pipefail fails when grep exits before tar finishes.
control="$(dpkg-deb --ctrl-tarfile "$deb" | tar -t)"
grep -q '\./postinst$' <<<"$control" || fail "no postinst"
grep -q '\./conffiles$' <<<"$control" || fail "no conffiles"

# Contents.
dpkg-deb -c "$deb" | awk '{print $6}' >"$WORK/files.txt"
p=".${prefix}"
for f in "$p/bin/archestra-platform" "$p/share/archestra/migrations/0001_initial.sql" \
  "$p/lib/systemd/system/archestra-platform.service"; do
  grep -qx "$f" "$WORK/files.txt" || fail "package lacks $f"
done
grep -q "archestra/archestra.properties$" "$WORK/files.txt" || fail "package lacks archestra.properties"
grep -q "archestra/platform.env$" "$WORK/files.txt" || fail "package lacks platform.env"
bundled="$(ls -d "$BUILD"/plugins-out/*/ 2>/dev/null | wc -l)"
packaged="$(grep -c "^$p/lib/archestra/plugins/.*/plugin.json$" "$WORK/files.txt" || true)"
note "plugins: $packaged packaged, $bundled built"
[[ "$packaged" == "$bundled" ]] || fail "packaged plugins ($packaged) != bundled plugins ($bundled)"
if [[ -d "$BUILD/ui-out" ]] && [[ -n "$(ls -A "$BUILD/ui-out")" ]]; then
  grep -q "^$p/share/archestra/ui/index.html$" "$WORK/files.txt" || fail "UI built but not packaged"
fi
! grep -q "fixtures\|Test\b" "$WORK/files.txt" || fail "test files in the package"
dpkg-deb -c "$devdeb" | awk '{print $6}' >"$WORK/devfiles.txt"
grep -q "include/archestra/sdk/plugin.h$" "$WORK/devfiles.txt" || fail "SDK headers missing from -dev"
grep -q "cmake/ArchestraSDK/ArchestraSDKConfig.cmake$" "$WORK/devfiles.txt" || fail "SDK CMake package missing"

# The systemd unit.
root="$WORK/root"
dpkg-deb -x "$deb" "$root"
unit="$root$prefix/lib/systemd/system/archestra-platform.service"
grep -qx "EnvironmentFile=/etc/archestra/platform.env" "$unit" || fail "unit lacks EnvironmentFile=/etc/archestra/platform.env"
grep -qx "ExecStart=$prefix/bin/archestra-platform --config .*/archestra.properties" "$unit" || fail "unit ExecStart: $(grep ExecStart "$unit")"
grep -qx "User=archestra" "$unit" || fail "unit does not drop privileges"
if command -v systemd-analyze >/dev/null 2>&1; then
  systemd-analyze verify "$unit" 2>&1 | grep -v "Cannot find\|No such file\|not executable\|is not a mount point\|Failed to prepare" | grep -i "error\|unknown" && fail "systemd-analyze: unit has errors" || true
fi

# Run what was extracted.
bin="$root$prefix/bin/archestra-platform"
[[ "$("$bin" --version)" == *"$version"* ]] || fail "--version: $("$bin" --version)"
export ARCHESTRA_DATA_DIR="$WORK/data"
API_PORT="$(free_port)"
export ARCHESTRA_API_BASE_URL="http://localhost:$API_PORT" ARCHESTRA_UI_PORT="$(free_port)"
export ARCHESTRA_METRICS_PORT="$(free_port)" ARCHESTRA_LISTEN_ADDRESS=127.0.0.1 ARCHESTRA_ANALYTICS=disabled
unset ARCHESTRA_DATABASE_URL DATABASE_URL ARCHESTRA_PLUGINS_DIR ARCHESTRA_UI_DIR
conf="$(grep -m1 "archestra/archestra.properties$" "$WORK/files.txt" | sed 's#^\.##')"

if [[ "$(id -u)" -eq 0 ]] && command -v unshare >/dev/null; then
  mode="installed layout (private mount namespace)"
  # Inside: the package's tree replaces $prefix, the source tree's migrations disappear.
  cmd=(unshare -m --propagation private bash -c '
      set -e
      mount --bind "$1" "$2"
      mount -t tmpfs none "$3"
      shift 3
      exec "$@"' _ "$root$prefix" "$prefix" "$repo/core/db" "$prefix/bin/archestra-platform" --config "$conf")
else
  mode="extracted tree with ARCHESTRA_PLUGINS_DIR (not root: no mount namespace)"
  export ARCHESTRA_PLUGINS_DIR="$root$prefix/lib/archestra/plugins"
  cmd=("$bin" --config "$root$conf")
fi
note "running the packaged binary: $mode"
"${cmd[@]}" --list-plugins >"$WORK/plugins.txt" 2>&1 || { cat "$WORK/plugins.txt"; fail "--list-plugins failed"; }
if ((bundled > 0)); then
  grep -q "$prefix/lib/archestra/plugins" "$WORK/plugins.txt" || { cat "$WORK/plugins.txt"; fail "plugins not found in the packaged directory"; }
fi
# exec: the background job becomes the platform itself, so $PID receives the SIGTERM below.
exec "${cmd[@]}" >"$WORK/platform.log" 2>&1 &
PID=$!
wait_status "http://127.0.0.1:$API_PORT/health" 200 120 || { cat "$WORK/platform.log"; fail "/health did not answer 200"; }
wait_status "http://127.0.0.1:$API_PORT/ready" 200 60 || { cat "$WORK/platform.log"; curl -s "http://127.0.0.1:$API_PORT/ready"; fail "/ready did not answer 200"; }
[[ -f "$WORK/data/.auth_secret" ]] || fail "no auth secret in the data directory"
kill -TERM "$PID"
code=0
wait "$PID" || code=$?
PID=""
[[ "$code" == 0 ]] || { cat "$WORK/platform.log"; fail "exit code $code after SIGTERM"; }
echo "PASS deb: $(basename "$deb") + $(basename "$devdeb"), extracted binary served /health and /ready ($mode)"
