#!/usr/bin/env bash
# sanitizer_reports: fails when any process of this CTest run left a sanitizer report (ASan, UBSan, LSan or
# TSan; the options in the generated ctest-environment.cmake send them to files in <dir>), and prints each.
# It runs after every other selected test (DEPENDS on all of them).
# Usage: check-reports.sh <reports dir>
set -euo pipefail
dir=${1:?usage: $0 <reports dir>}
stamp="$dir/.ctest-started.$PPID"   # written by the CTest process running this test (ctest-environment.cmake)
[[ -f "$stamp" ]] || { echo "sanitizer_reports: $stamp missing (was ctest-environment.cmake included?)" >&2; exit 1; }
mapfile -t reports < <(find "$dir" -maxdepth 1 -type f ! -name '.*' -newer "$stamp" | sort)
if [[ ${#reports[@]} -eq 0 ]]; then
  echo "sanitizer_reports: no sanitizer report in $dir since this run started (${ARCHESTRA_SANITIZER:-?})"
  exit 0
fi
echo "sanitizer_reports: ${#reports[@]} report(s) in $dir:" >&2
for r in "${reports[@]}"; do
  echo "===== $(basename "$r")" >&2
  head -c 20000 "$r" >&2
done
exit 1
