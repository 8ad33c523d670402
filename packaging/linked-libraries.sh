#!/usr/bin/env bash
# Lists every shared library the platform binary and its plugins load, with the Debian package that ships it
# and that package's installed version, so a reviewer can check the advisories for exactly what runs.
#   packaging/linked-libraries.sh <build-dir>      prints a Markdown table; exits 1 when a library that is
#                                                  not ours belongs to no Debian package (unreviewable)
set -euo pipefail
build="${1:?usage: $0 <build-dir>}"
binaries=("$build/core/archestra-platform")
while IFS= read -r -d '' plugin; do binaries+=("$plugin"); done < <(find "$build/plugins-out" -name '*.so' -print0 | sort -z)

declare -A seen_by
for bin in "${binaries[@]}"; do
  [[ -e "$bin" ]] || { echo "linked-libraries: $bin not built" >&2; exit 1; }
  # ldd prints "name => /path (addr)"; the vdso and the loader have no "=>" path worth mapping.
  while read -r lib; do
    seen_by["$lib"]+="$(basename "$bin") "
  done < <(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3}')
done

unowned=0
echo "| library | Debian package | version | used by |"
echo "|---|---|---|---|"
for lib in $(printf '%s\n' "${!seen_by[@]}" | sort); do
  real="$(realpath "$lib")"
  # Debian 12 merges /lib into /usr/lib; dpkg records whichever path the package shipped.
  pkg="$(dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true)"
  pkg="${pkg%%:*}"
  if [[ -z "$pkg" ]]; then
    pkg="(none)"; version="-"
    case "$lib" in "$build"/*) ;; *) unowned=$((unowned + 1)) ;; esac
  else
    version="$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || echo '?')"
  fi
  users="${seen_by[$lib]}"
  count=$(wc -w <<<"$users")
  [[ $count -gt 3 ]] && users="$(awk '{print $1, $2, $3}' <<<"$users") and $((count - 3)) more"
  echo "| \`$(basename "$lib")\` | $pkg | $version | $users |"
done
if [[ $unowned -gt 0 ]]; then
  echo "linked-libraries: $unowned library/libraries belong to no Debian package" >&2
  exit 1
fi
