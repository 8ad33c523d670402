#!/usr/bin/env bash
# `make bench`: the LLM proxy benchmark (not a test). Direct nginx vs archestra-platform vs the Portkey gateway,
# measured side by side with wrk; prints the table and writes docs/benchmark.md. See bench.mjs for the knobs
# (BENCH_DURATION=60 make bench for longer runs).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

missing=()
for tool in nginx wrk hey psql; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if (( ${#missing[@]} )); then
  echo "bench: missing ${missing[*]}; run 'bash packaging/install-deps.sh --test' (nginx-light, wrk, hey, postgresql)" >&2
  exit 1
fi
bash "$root/test/e2e/install-npm.sh"

export ARCHESTRA_PLATFORM_BINARY="${ARCHESTRA_PLATFORM_BINARY:-$root/build/${PRESET:-default}/core/archestra-platform}"
if [[ ! -x $ARCHESTRA_PLATFORM_BINARY ]]; then
  echo "bench: $ARCHESTRA_PLATFORM_BINARY not built; run 'make build' first" >&2
  exit 1
fi
exec "$root/test/e2e/node.sh" "$here/bench.mjs"
