#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs them for a fixed time; any crash, leak, UB or timeout fails.
#   run-fuzz.sh build <build-dir>                      configure + build every target of targets.cmake
#   run-fuzz.sh run   <build-dir> <target> [seconds]   run one target (seeds from corpus/<name>, default 20 s)
#   run-fuzz.sh all   <build-dir> [seconds]            build, then run every target
# Extra libFuzzer flags can be passed in FUZZ_FLAGS (e.g. FUZZ_FLAGS="-jobs=2").
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cmd="${1:-}"; dir="${2:-}"
[[ -n "$cmd" && -n "$dir" ]] || { sed -n '2,6p' "$0"; exit 2; }

build() {
  # Missing clang is a failure, not a skip: the fuzz suite would silently stop guarding anything.
  local cxx
  cxx="$(command -v clang++ || true)"
  if [[ -z "$cxx" ]]; then
    echo "run-fuzz: clang++ not found; install it (packaging/install-deps.sh --test installs clang and libclang-rt-14-dev)" >&2
    exit 1
  fi
  cmake -S "$here/out-of-tree" -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$dir" -j"${FUZZ_BUILD_JOBS:-2}"
}

targets() {
  sed -n 's/^[[:space:]]*archestra_fuzz_target([[:space:]]*\([A-Za-z0-9_]*\).*/\1/p' "$here/targets.cmake"
}

run() {
  local target="$1" seconds="${2:-20}" name="${1#fuzz_}"
  local bin="$dir/$target"
  [[ -x "$bin" ]] || { echo "run-fuzz: $bin not built (run: $0 build $dir)" >&2; exit 1; }
  # libFuzzer writes new inputs into the first corpus directory: keep that in the build tree and read the
  # checked-in seeds from the second.
  local work="$dir/corpus/$name" artifacts="$dir/artifacts"
  mkdir -p "$work" "$artifacts"
  local seeds=()
  [[ -d "$here/corpus/$name" ]] && seeds+=("$here/corpus/$name")
  local dict=()
  [[ -f "$here/dict/$name.dict" ]] && dict+=("-dict=$here/dict/$name.dict")
  echo "run-fuzz: $target for ${seconds}s"
  # shellcheck disable=SC2086
  local output="$dir/$target.log"
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}" \
  UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts/$target-" "${dict[@]}" ${FUZZ_FLAGS:-} "$work" "${seeds[@]}" 2>&1 | tee "$output"
  record "$target" "$seconds" "$output"
}

# The run's figures for docs/reliability.md (test/bench/reliability-report.mjs): executions and the coverage
# counters libFuzzer printed last, in <build>/reliability/fuzz-<target>.json (test/e2e/lib/reliability.mjs's format).
record() {
  local target="$1" seconds="$2" output="$3"
  local execs cov ft corpus
  execs="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$output" | tail -1)"
  cov="$(grep -o 'cov: [0-9]*' "$output" | tail -1 | cut -d' ' -f2)"
  ft="$(grep -o 'ft: [0-9]*' "$output" | tail -1 | cut -d' ' -f2)"
  corpus="$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$output" | tail -1 | cut -d' ' -f2)"
  [[ -n "$execs" ]] || return 0
  local out_dir="${ARCHESTRA_RELIABILITY_DIR:-$(dirname "$dir")/reliability}"
  mkdir -p "$out_dir"
  printf '{"test":"fuzz-%s","recordedAt":"%s","rows":[{"what":"Fuzzing: %s","how":"libFuzzer + ASan + UBSan, %s s (test/fuzz/run-fuzz.sh, seeds in test/fuzz/corpus/%s)","figure":"%s executions, no crash; libFuzzer cov %s, ft %s, corpus %s"}]}\n' \
    "${target#fuzz_}" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$target" "$seconds" "${target#fuzz_}" "$execs" "${cov:-?}" "${ft:-?}" "${corpus:-?}" \
    >"$out_dir/fuzz-${target#fuzz_}.json"
}

case "$cmd" in
  build) build ;;
  run) run "${3:?target name}" "${4:-20}" ;;
  all)
    build
    for t in $(targets); do run "$t" "${3:-20}"; done ;;
  *) sed -n '2,6p' "$0"; exit 2 ;;
esac
