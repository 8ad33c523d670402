#!/usr/bin/env bash
# Installs the Debian packages the platform needs to build, run and test. Idempotent and quiet when all is present.
set -euo pipefail

# Build and run-time packages (Debian 12 names).
PKGS=(
  build-essential cmake ninja-build ccache pkg-config git ca-certificates curl
  libpoco-dev nlohmann-json3-dev libboost-dev libboost-filesystem-dev libcppunit-dev
  libssl-dev libpq-dev postgresql prometheus-cpp-dev libargon2-dev libxmlsec1-dev zlib1g-dev libyaml-cpp-dev libjemalloc-dev
  libsimdjson-dev
  nodejs npm
)
# Extra packages only the test suite uses.
if [[ "${1:-}" == "--test" ]]; then
  PKGS+=(clang-format clang libclang-rt-14-dev llvm-14 valgrind chromium wrk hey apache2-utils nginx-light procps iproute2 lsof prometheus
         golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev)
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A machine may already carry a newer Node.js outside dpkg; do not replace it.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
clean=(); for p in "${missing[@]}"; do [[ -n "$p" ]] && clean+=("$p"); done
[[ ${#clean[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${clean[*]}"
SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${clean[@]}" >/dev/null
