#!/usr/bin/env bash
# Out-of-tree plugin test: `cmake --install` this build to a temporary prefix, build the example plugin against
# that prefix with only find_package(ArchestraSDK) + archestra_add_plugin(), drop it into a plugin directory and
# check the plugin manager lists and uses it (and the installed host's --list-plugins, once it has one).
# Usage: out_of_tree_test.sh <build dir> <source dir> <probe binary> <C++ compiler> [sanitizer flags]
# (sanitizer flags: a CMake list, as the asan/tsan builds pass it, so the plugin is instrumented like the host)
set -euo pipefail
build=$1 src=$2 probe=$3 cxx=$4 sanitize=${5:-}
sanitize=${sanitize//;/ }
tmp=$(mktemp -d /tmp/archestra-sdk-oot-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# ARCHESTRA_INSTALL_COMPONENT=sdk installs only the SDK (useful while the host does not build).
component=()
[[ -n "${ARCHESTRA_INSTALL_COMPONENT:-}" ]] && component=(--component "$ARCHESTRA_INSTALL_COMPONENT")
cmake --install "$build" --prefix "$tmp/prefix" "${component[@]}" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "cmake --install $build failed"; }
config=$(find "$tmp/prefix" -name ArchestraSDKConfig.cmake | head -1)
[[ -n "$config" ]] || fail "ArchestraSDKConfig.cmake not installed under $tmp/prefix"
[[ -f "$tmp/prefix/include/archestra/sdk/plugin.h" ]] || fail "SDK headers not installed under $tmp/prefix/include"

# Build a copy of the example so nothing is written into the source tree.
cp -r "$src/sdk/examples/hello-telemetry" "$tmp/example"
cmake -S "$tmp/example" -B "$tmp/example-build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_CXX_FLAGS="$sanitize" \
  -DCMAKE_SHARED_LINKER_FLAGS="$sanitize" -DCMAKE_MODULE_LINKER_FLAGS="$sanitize" >"$tmp/configure.log" 2>&1 ||
  { cat "$tmp/configure.log" >&2; fail "configuring the example against the installed SDK failed"; }
cmake --build "$tmp/example-build" >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log" >&2; fail "building the example against the installed SDK failed"; }
built="$tmp/example-build/plugins-out/telemetry.hello"
[[ -f "$built/archestra-telemetry-hello.so" && -f "$built/plugin.json" ]] ||
  fail "expected $built/archestra-telemetry-hello.so and plugin.json"
# The plugin must export exactly the two boundary symbols (built with -fvisibility=hidden).
exported=$(nm -D --defined-only "$built/archestra-telemetry-hello.so" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sort | tr '\n' ' ')
[[ "$exported" == "archestra_plugin_entry archestra_plugin_info " ]] ||
  fail "expected only archestra_plugin_entry and archestra_plugin_info exported, got: $exported"

mkdir -p "$tmp/plugins" "$tmp/data"
cp -r "$built" "$tmp/plugins/"
chmod -R go-w "$tmp/plugins"

"$probe" "$tmp/plugins" "$tmp/data" hello '{"file":"spans.jsonl"}' >"$tmp/table.txt" 2>"$tmp/probe.log" ||
  { cat "$tmp/table.txt" "$tmp/probe.log" >&2; fail "the plugin manager could not load or use the example"; }
grep -Eq "^hello +telemetry +1\.0\.0 +$tmp/plugins/telemetry.hello/archestra-telemetry-hello.so +loaded" "$tmp/table.txt" ||
  { cat "$tmp/table.txt" >&2; fail "plugin table does not list hello as loaded"; }
line=$(cat "$tmp/data/spans.jsonl" 2>/dev/null || true)
expected='{"type":"span","traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","parentSpanId":"","name":"oot.span","startUnixNanos":1700000000000000000,"endUnixNanos":1700000000500000000,"status":"ok","attributes":{"llm.model":"gpt-4o"}}'
[[ "$line" == "$expected" ]] || fail "spans.jsonl holds '$line', expected '$expected'"

# The installed host, once it supports --list-plugins, must list the plugin too.
host="$tmp/prefix/bin/archestra-platform"
if [[ -x "$host" ]] && "$host" --help 2>&1 | grep -q -- "--list-plugins"; then
  ARCHESTRA_PLUGINS_DIR="$tmp/plugins" ARCHESTRA_DATA_DIR="$tmp/data" "$host" --list-plugins >"$tmp/host.txt" 2>&1 ||
    { cat "$tmp/host.txt" >&2; fail "$host --list-plugins failed"; }
  grep -Eq "hello +telemetry +1\.0\.0 .*loaded" "$tmp/host.txt" ||
    { cat "$tmp/host.txt" >&2; fail "$host --list-plugins does not list hello as loaded"; }
  echo "installed host lists the plugin"
else
  echo "note: $host has no --list-plugins yet; checked through the plugin manager only"
fi
echo "PASS: example plugin built against the installed SDK, loaded and used"
