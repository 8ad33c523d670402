#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs them for a fixed time; any crash, leak, UB or timeout fails.
#   run-fuzz.sh build    <build-dir>                     configure + build every target of targets.cmake
#   run-fuzz.sh run      <build-dir> <target> [seconds]  run one target (seeds from corpus/<name>, default 20 s)
#   run-fuzz.sh all      <build-dir> [seconds]           build, then run every target
#   run-fuzz.sh coverage <build-dir> [fuzz-build-dir]    build with source-based coverage, replay each target's
#                        seeds plus what runs found (<fuzz-build-dir>/corpus/<name>), print line/function coverage
# Extra libFuzzer flags can be passed in FUZZ_FLAGS (e.g. FUZZ_FLAGS="-jobs=2").
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cmd="${1:-}"; dir="${2:-}"
usage() { sed -n '2,8p' "$0"; exit 2; }
[[ -n "$cmd" && -n "$dir" ]] || usage

# Missing tools are a failure, not a skip: the fuzz suite would silently stop guarding anything.
need() {
  command -v "$1" >/dev/null || {
    echo "run-fuzz: $1 not found; install it (packaging/install-deps.sh --test installs clang, libclang-rt-14-dev and llvm-14)" >&2
    exit 1
  }
}

# build [extra cmake -D options...]
build() {
  need clang++
  cmake -S "$here/out-of-tree" -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER="$(command -v clang++)" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
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

reliability_dir() {
  echo "${ARCHESTRA_RELIABILITY_DIR:-$(dirname "$dir")/reliability}"
}

# The value of libFuzzer's last "<key>: <n>" progress field (cov, ft, corp, exec/s) in a log.
progress() {
  grep -o "$1: [0-9][0-9/]*[a-zA-Z]*" "$2" | tail -1 | cut -d' ' -f2
}

# One result file of test/e2e/lib/reliability.mjs's format ({test, recordedAt, rows:[{what, how, figure}]}),
# read by test/bench/reliability-report.mjs into docs/reliability.md. The texts are ours (no quotes in them).
write_record() {
  local test="$1" what="$2" how="$3" figure="$4" out
  out="$(reliability_dir)"
  mkdir -p "$out"
  printf '{"test":"%s","recordedAt":"%s","rows":[{"what":"%s","how":"%s","figure":"%s"}]}\n' \
    "$test" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$what" "$how" "$figure" >"$out/$test.json.tmp"
  mv "$out/$test.json.tmp" "$out/$test.json"
}

# The run's figures from libFuzzer's final stats (-print_final_stats=1) and its last progress line: executions,
# executions per second, edges covered (cov), features (ft), the corpus it ended with and what it added.
record() {
  local target="$1" seconds="$2" output="$3" name="${1#fuzz_}"
  final_stat() { sed -n "s/^stat::$1: *\([0-9]*\).*/\1/p" "$output" | tail -1; }
  local execs rate added
  execs="$(final_stat number_of_executed_units)"
  [[ -n "$execs" ]] || { echo "run-fuzz: no final stats from $target (see $output)" >&2; return 1; }
  rate="$(final_stat average_exec_per_sec)"
  added="$(final_stat new_units_added)"
  write_record "fuzz-$name" "Fuzzing: $target" \
    "libFuzzer + ASan + UBSan, $seconds s (test/fuzz/run-fuzz.sh, seeds in test/fuzz/corpus/$name)" \
    "$execs executions ($rate exec/s), no crash; $(progress cov "$output") edges covered, $(progress ft "$output") features; corpus $(progress corp "$output") (units/bytes, $added new)"
}

# llvm-profdata/llvm-cov of clang's own version (Debian installs them as llvm-*-<major>).
llvm_tool() {
  local major
  major="$(clang++ --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)"
  if command -v "$1-$major" >/dev/null; then echo "$1-$major"; else need "$1"; echo "$1"; fi
}

# From llvm-cov's report (columns: file, regions, missed, cover, functions, missed, executed, lines, missed,
# cover, ...): line and function totals over the files the target reaches, each such file's line coverage, and
# the files it only links (no line run), which would otherwise dilute the total.
coverage_figure() {
  awk '
    /^-+$/ { table = !table; next }
    table && $1 != "Filename" {
      if ($8 - $9 == 0) { linked = linked (linked ? ", " : "") $1; next }
      lines += $8; hit += $8 - $9; funcs += $5; fhit += $5 - $6
      files = files (files ? ", " : "") $1 " " $10
    }
    END {
      printf "lines %d/%d (%.1f%%), functions %d/%d (%.1f%%) of the files it reaches: %s", hit, lines,
        lines ? 100 * hit / lines : 0, fhit, funcs, funcs ? 100 * fhit / funcs : 0, files
      if (linked) printf "; linked, not reached: %s", linked
    }' "$1"
}

# Builds the targets with coverage instead of sanitizers into <build-dir>, replays every input of each target's
# seeds and of what fuzz runs found (once each, -runs=0), and reports line and function coverage of the core
# files the target names in targets.cmake.
coverage() {
  local found="${1:-$(dirname "$dir")/fuzz}" profdata llvmcov
  profdata="$(llvm_tool llvm-profdata)"
  llvmcov="$(llvm_tool llvm-cov)"
  build -DARCHESTRA_FUZZ_COVERAGE=ON
  for target in $(targets); do
    local name="${target#fuzz_}" inputs=()
    [[ -d "$here/corpus/$name" ]] && inputs+=("$here/corpus/$name")
    [[ -d "$found/corpus/$name" ]] && inputs+=("$found/corpus/$name")
    local units
    units="$(find "${inputs[@]}" -type f | wc -l)"
    rm -f "$dir/$target".*.profraw
    LLVM_PROFILE_FILE="$dir/$target.%p.profraw" "$dir/$target" -runs=0 "${inputs[@]}" >"$dir/$target.replay.log" 2>&1 \
      || { echo "run-fuzz: replaying $target's corpus failed (see $dir/$target.replay.log)" >&2; exit 1; }
    "$profdata" merge -sparse "$dir/$target".*.profraw -o "$dir/$target.profdata"
    mapfile -t sources <"$dir/$target.sources"
    echo "== $target: $units inputs replayed"
    "$llvmcov" report "$dir/$target" -instr-profile="$dir/$target.profdata" "${sources[@]}" \
      | sed "s|$(cd "$here/../.." && pwd)/||" | tee "$dir/$target.coverage.txt"
    write_record "fuzz-coverage-$name" "Fuzz coverage: $target" \
      "clang source-based coverage (make fuzz-coverage), replaying $units inputs: the seeds in test/fuzz/corpus/$name plus what fuzz runs found" \
      "$(coverage_figure "$dir/$target.coverage.txt")"
  done
}

case "$cmd" in
  build) build ;;
  run) run "${3:?target name}" "${4:-20}" ;;
  all)
    build
    for t in $(targets); do run "$t" "${3:-20}"; done ;;
  coverage) coverage "${3:-}" ;;
  *) usage ;;
esac
