#!/usr/bin/env bash
# Installs what building and checking the Debian package needs besides dpkg-deb (dpkg is essential): strip (binutils)
# for the bundled Node and cgexec-enter, and lintian, whose verdict the package's test checks. Idempotent: when
# everything is present it only checks and exits (silently with --quiet, as scripts/test.sh runs it).
set -euo pipefail
quiet=false
if [ "${1:-}" = "--quiet" ]; then quiet=true; fi

packages=(binutils lintian)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  $quiet || echo "deb: ${packages[*]} already installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "deb: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
