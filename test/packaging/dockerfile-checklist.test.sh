#!/usr/bin/env bash
# Dockerfile checklist (hadolint cannot be installed from Debian or npm here, and no Docker engine runs): the
# hadolint rules that apply to packaging/Dockerfile, scripted, plus the image contract of the deployment guide
# (ports, volumes, health check, non-root platform, no build tools in the run stage) and a check that every
# shared library the built binary and plugins load comes from a package the run stage installs.
# Usage: dockerfile-checklist.test.sh <archestra-platform binary> <plugins dir>
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
source "$here/lib.sh"
BIN="${1:?platform binary}"
PLUGINS="${2:?plugins dir}"
DF="$repo/packaging/Dockerfile"
[[ -f "$DF" ]] || fail "no packaging/Dockerfile"

# Join continuation lines so each instruction is one line; drop comments.
instructions="$(sed -e 's/[[:space:]]*#.*$//' "$DF" | sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' | grep -v '^[[:space:]]*$')"
failures=0
check() { # check <rule> <description> <command...>
  local rule="$1" what="$2"; shift 2
  if "$@"; then echo "ok   $rule $what"; else echo "FAIL $rule $what"; failures=$((failures + 1)); fi
}
has() { grep -Eq "$1" <<<"$instructions"; }
hasnt() { ! grep -Eq "$1" <<<"$instructions"; }

froms="$(grep -E '^FROM ' <<<"$instructions")"
run_stage="$(awk '/^FROM /{n++} n==2' <<<"$instructions")"
check DL3006 "every FROM names a tag" bash -c '! grep -E "^FROM [^ :]+( |$)" <<<"$1"' _ "$froms"
check DL3007 "no FROM ...:latest" bash -c '! grep -q ":latest" <<<"$1"' _ "$froms"
check stages "two stages, both Debian 12" bash -c '[[ $(grep -c "^FROM debian:12" <<<"$1") == 2 ]]' _ "$froms"
check DL3020 "COPY, not ADD" hasnt '^ADD '
check DL3004 "no sudo" hasnt '^RUN .*\bsudo\b'
check DL3005 "no apt-get upgrade/dist-upgrade" hasnt 'apt-get (dist-)?upgrade'
check DL3003 "WORKDIR instead of cd" hasnt '^RUN (.*[;&] *)?cd '
check DL3014 "apt-get install -y" bash -c '! grep -E "apt-get install" <<<"$1" | grep -vq -- " -y"' _ "$instructions"
check DL3015 "apt-get install --no-install-recommends" \
  bash -c '! grep -E "apt-get install" <<<"$1" | grep -vq -- "--no-install-recommends"' _ "$instructions"
check DL3009 "apt lists removed in the same RUN" \
  bash -c '! grep -E "apt-get (update|install)" <<<"$1" | grep -vq "rm -rf /var/lib/apt/lists"' _ "$instructions"
check DL3025 "ENTRYPOINT in JSON form" has '^ENTRYPOINT \['
check DL3025 "HEALTHCHECK CMD in JSON form" has '^HEALTHCHECK .*CMD \['
# DL4006: a RUN with a pipe needs SHELL ... pipefail earlier in its stage.
pipefail_ok() {
  awk '/^FROM /{shell=0} /^SHELL .*pipefail/{shell=1} /^RUN .*[^|]\|[^|]/{ if (!shell) bad=1 } END{exit bad}' <<<"$instructions"
}
check DL4006 "pipes only under SHELL pipefail" pipefail_ok
check DL3000 "WORKDIR paths are absolute" bash -c '! grep -E "^WORKDIR [^/]" <<<"$1"' _ "$instructions"

check image "EXPOSE 9000 3000 9050" has '^EXPOSE 9000 3000 9050$'
check image "VOLUME /var/lib/postgresql/data and /app/data" has '^VOLUME \["/var/lib/postgresql/data", "/app/data"\]$'
check image "HEALTHCHECK probes /health" bash -c 'grep -q "^HEALTHCHECK .*healthcheck.sh" <<<"$1" && grep -q "GET /health " "$2"' _ "$instructions" "$repo/packaging/healthcheck.sh"
check image "entrypoint is packaging/docker-entrypoint.sh" has '^COPY packaging/docker-entrypoint.sh'
check image "non-root archestra user created" bash -c 'grep -q "useradd .*archestra" <<<"$1"' _ "$run_stage"
check image "PostgreSQL data and run dirs owned by postgres" bash -c 'grep -q "chown postgres:postgres /var/lib/postgresql/data /run/postgresql" <<<"$1"' _ "$run_stage"
check image "ARCHESTRA_DATA_DIR=/app/data" has 'ARCHESTRA_DATA_DIR=/app/data'
check image "run stage has no compiler, CMake or npm" \
  bash -c '! grep -Eq "build-essential|\bg\+\+|\bgcc\b|\bcmake\b|nodejs|\bnpm\b|install-deps" <<<"$1"' _ "$(grep "^RUN" <<<"$run_stage")"
check image "run stage copies only the install tree and the scripts" \
  bash -c '[[ $(grep -c "^COPY" <<<"$1") == 2 ]] && grep -q "^COPY --from=build /out/ /" <<<"$1"' _ "$run_stage"
check image ".dockerignore keeps build trees, .git and node_modules out" \
  bash -c 'grep -qx "build/" "$1" && grep -qx ".git" "$1" && grep -q "node_modules" "$1"' _ "$repo/.dockerignore"
check scripts "entrypoint and health check parse" bash -c 'bash -n "$1" && bash -n "$2"' _ "$repo/packaging/docker-entrypoint.sh" "$repo/packaging/healthcheck.sh"
check scripts "entrypoint and health check are executable" test -x "$repo/packaging/docker-entrypoint.sh" -a -x "$repo/packaging/healthcheck.sh"
# The health check probes the port the platform listens on (Settings::apiPort, SettingsTest::testApiPort):
# the URL's explicit port, else 9000 whatever the scheme. It once fell back to 80 for https://api.example.com,
# so a container run as deployment.md shows was marked unhealthy.
health_port() { env -u ARCHESTRA_HEALTH_PORT ARCHESTRA_API_BASE_URL="$1" "$repo/packaging/healthcheck.sh" --print-port; }
for case in "https://api.example.com=9000" "https://api.example.com/=9000" "http://localhost:9001=9001" \
  "https://api.example.com:8443/base=8443" "http://user:pw@host:7000/x?y=1=7000" "http://[::1]/=9000" \
  "http://[::1]:9100=9100" "http://host.example?port=1=9000"; do
  url="${case%=*}" want="${case##*=}"
  check health "health check port of $url is $want" test "$(health_port "$url")" = "$want"
done
check health "health check port without ARCHESTRA_API_BASE_URL is 9000" \
  test "$(env -u ARCHESTRA_API_BASE_URL -u ARCHESTRA_HEALTH_PORT "$repo/packaging/healthcheck.sh" --print-port)" = 9000

# The run stage's apt packages exist in Debian 12 and cover every shared library of the binary and plugins.
pkgs="$(grep -E "^RUN .*apt-get install" <<<"$run_stage" | sed -E 's/.*--no-install-recommends//; s/&&.*//' | tr ' ' '\n' | grep -v '^$' | sort -u)"
# One apt-cache call for all (each call reads the whole cache).
known="$(apt-cache show --no-all-versions $pkgs 2>/dev/null | sed -n 's/^Package: //p' | sort -u)"
missing_pkgs=""
for p in $pkgs; do grep -qx "$p" <<<"$known" || missing_pkgs+=" $p"; done
check apt "run-stage packages exist in the archive" test -z "$missing_pkgs"
[[ -z "$missing_pkgs" ]] || echo "     unknown packages:$missing_pkgs"
# Dependency closure of those packages from the local dpkg database (fast; apt-cache --recurse is not).
closure="$(python3 - $pkgs <<'PY'
import re, subprocess, sys
seen, todo = set(), list(sys.argv[1:])
while todo:
    batch = [p for p in todo if p not in seen]
    todo = []
    if not batch:
        break
    seen.update(batch)
    out = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${Depends}, ${Pre-Depends}\n", *batch],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        for alt in line.split("\t", 1)[1].split(","):
            name = re.sub(r"[ (:].*", "", alt.strip().split("|")[0].strip())
            if name and name not in seen:
                todo.append(name)
print("\n".join(sorted(seen)))
PY
)"
base_image="libc6 libgcc-s1 libstdc++6 zlib1g"
# A sanitizer build (ARCHESTRA_SANITIZER, set by the asan/tsan presets' CTest environment) links the compiler's
# sanitizer runtimes; the image never ships that build, so they are not run-stage packages. Every other library
# is still checked.
sanitizer_runtimes=""
[[ -n "${ARCHESTRA_SANITIZER:-}" ]] && sanitizer_runtimes="libasan8 libubsan1 libtsan2 liblsan0"
uncovered=""
objects=("$BIN")
while IFS= read -r so; do objects+=("$so"); done < <(find "$PLUGINS" -name '*.so' 2>/dev/null)
libs="$(ldd "${objects[@]}" 2>/dev/null | awk '/=> \//{print $3}' | sort -u)"
# One dpkg -S call; Debian 12 is usr-merged, so a library may be registered under /lib or /usr/lib.
owners="$(for lib in $libs; do real="$(realpath "$lib")"; echo "$lib"; echo "$real"; echo "${real#/usr}"; done |
  sort -u | xargs -r dpkg -S 2>/dev/null || true)"
for lib in $libs; do
  real="$(realpath "$lib")"
  owner="$(awk -F': ' -v a="$lib" -v b="$real" -v c="${real#/usr}" '$2==a||$2==b||$2==c {print $1; exit}' <<<"$owners")"
  owner="${owner%%:*}"
  [[ -z "$owner" ]] && { uncovered+=" $lib(no package)"; continue; }
  grep -qx "$owner" <<<"$closure" || [[ " $base_image $sanitizer_runtimes " == *" $owner "* ]] || uncovered+=" $lib($owner)"
done
check apt "every library of the binary and ${#objects[@]} objects comes from a run-stage package" test -z "$uncovered"
[[ -z "$uncovered" ]] || echo "     not installed by the run stage:$uncovered"

((failures == 0)) || fail "$failures checklist item(s) failed"
echo "PASS Dockerfile checklist"
