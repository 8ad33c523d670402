#!/usr/bin/env bash
# Runs the test suite under the sanitizer presets and records the figures for docs/reliability.md:
#   asan: the whole suite (unit, integration, e2e) built with ASan + UBSan (LeakSanitizer on)
#   tsan: the proxy and interaction-log writer tests plus the proxy e2e suites under ThreadSanitizer
# Writes build/default/reliability/sanitizers.json in the format of test/e2e/lib/reliability.mjs
# ({test, recordedAt, rows:[{what, how, figure}]}); the full CTest output stays in build/<preset>/sanitizers-run.log.
#   test/bench/sanitizers.sh              both presets
#   test/bench/sanitizers.sh asan         one (the other's earlier figures are kept if recorded)
#   SANITIZER_TARGETS='t1 t2' SANITIZER_TESTS='regex' test/bench/sanitizers.sh asan
#                                         a part: builds only those targets, runs only the tests matching the
#                                         regex (plus sanitizer_reports); the rows say which (no "whole suite")
# Builds at low priority (nice 10): the machine is shared. Exit status: 0 when every selected test passed.
set -uo pipefail
cd "$(dirname "$0")/../.."
presets=("$@")
[[ ${#presets[@]} -gt 0 ]] || presets=(asan tsan)
out=build/default/reliability/sanitizers.json
mkdir -p "$(dirname "$out")"
status=0

declare -A what=(
  [asan]="whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer)"
  [tsan]="proxy and interaction-log writer tests (unit + proxy e2e) under ThreadSanitizer"
)
declare -A tool=(
  [asan]="AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer)"
  [tsan]="ThreadSanitizer"
)
rows_file=$(mktemp)
trap 'rm -f "$rows_file"' EXIT
# Earlier rows of presets not run now are kept: from this build's record, else from the one kept in git. A part
# run (SANITIZER_TESTS) replaces only the earlier part rows of its preset: the whole-suite rows stay beside it.
earlier=$out
[[ -f "$earlier" ]] || earlier=docs/reliability-records/sanitizers.json
if [[ -f "$earlier" ]]; then
  # (the findings row is recomputed below, never kept)
  jq -c --arg run "${presets[*]}" --arg part "${SANITIZER_TESTS:+1}" '.rows[]
    | select((.how | test("ctest --preset (" + ($run | gsub(" "; "|")) + ")\\b") | not)
             or ($part == "1" and (.what | contains("ONLY part") | not)))
    | select(.what != "sanitizer findings fixed in our code")' \
    "$earlier" >>"$rows_file" 2>/dev/null || true
fi

for preset in "${presets[@]}"; do
  build=build/$preset
  log=$build/sanitizers-run.log
  [[ -f $build/build.ninja ]] || cmake --preset "$preset" >/dev/null || { status=1; continue; }
  build_start=$(date +%s)
  targets=()
  [[ -n ${SANITIZER_TARGETS:-} ]] && read -ra targets <<<"--target $SANITIZER_TARGETS"
  nice -n 10 cmake --build --preset "$preset" -j "${JOBS:-2}" "${targets[@]}" >"$build/sanitizers-build.log" 2>&1 ||
    { echo "sanitizers: building $preset failed (see $build/sanitizers-build.log)" >&2; status=1; continue; }
  build_s=$(( $(date +%s) - build_start ))
  start=$(date +%s)
  filter=()
  [[ -n ${SANITIZER_TESTS:-} ]] && filter=(-R "^(${SANITIZER_TESTS})\$|^sanitizer_reports\$")
  mkdir -p "$build/sanitizer-reports"
  touch "$build/sanitizer-reports/.sanitizers-sh-started"
  nice -n 10 ctest --preset "$preset" "${filter[@]}" >"$log" 2>&1 || status=1
  secs=$(( $(date +%s) - start ))
  summary=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
  total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$summary")
  failed=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$summary")
  [[ -n $total && -n $failed ]] || { total=0; failed=0; status=1; }
  passed=$((total - failed))
  reports=$(find "$build/sanitizer-reports" -maxdepth 1 -type f ! -name '.*' -newer "$build/sanitizer-reports/.sanitizers-sh-started" 2>/dev/null | wc -l)
  failed_names=$(sed -n 's/^[[:space:]]*[0-9]* - \([A-Za-z0-9_]*\) .*/\1/p' "$log" | tr '\n' ' ')
  failed_names=${failed_names% }
  echo "sanitizers: $preset: $passed/$total passed in ${secs} s, $reports sanitizer report(s)${failed_names:+; failed: $failed_names}"
  how="ctest --preset $preset${filter:+ -R '${filter[1]}'} (build/$preset of $(git rev-parse --short HEAD), $(nproc) cores, nice build ${build_s} s)"
  label=${what[$preset]}
  # A part of the selection is named as such, with the tests that ran.
  if [[ -n ${SANITIZER_TESTS:-} ]]; then
    ran=$(sed -n 's/^ *[0-9]*\/[0-9]* Test *#[0-9]*: \([A-Za-z0-9_]*\) .*/\1/p' "$log" | tr '\n' ' ')
    label="${tool[$preset]}, ONLY part of the selection (${ran% })"
  fi
  jq -nc --arg w "${label}: tests passed / run" --arg h "$how" --arg f "$passed / $total" \
    '{what:$w, how:$h, figure:$f}' >>"$rows_file"
  jq -nc --arg w "${label}: wall time of the run" --arg h "$how" --arg f "${secs} s" \
    '{what:$w, how:$h, figure:$f}' >>"$rows_file"
  jq -nc --arg w "${label}: sanitizer reports left by the run" --arg h "$how (files in build/$preset/sanitizer-reports)" \
    --arg f "$reports" '{what:$w, how:$h, figure:$f}' >>"$rows_file"
  if [[ -n $failed_names ]]; then
    jq -nc --arg w "${label}: failing tests" --arg h "$how" --arg f "$failed_names" \
      '{what:$w, how:$h, figure:$f}' >>"$rows_file"
  fi
done

# Findings fixed: commits whose subject starts with the sanitizer that found them (asan:, ubsan:, lsan:, tsan:).
fixed=$(git log --oneline -E --grep='^(asan|ubsan|lsan|tsan): ' | wc -l)
jq -nc --arg f "$fixed" '{what:"sanitizer findings fixed in our code", how:"git log --grep \"^(asan|ubsan|lsan|tsan): \" (one commit per finding)", figure:$f}' >>"$rows_file"

jq -s --arg at "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" '{test:"sanitizers", recordedAt:$at, rows:.}' "$rows_file" >"$out.tmp" &&
  mv "$out.tmp" "$out"
echo "sanitizers: wrote $out"
exit $status
