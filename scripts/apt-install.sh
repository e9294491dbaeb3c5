#!/usr/bin/env bash
# Installs the Debian packages a part of the project needs when any is missing (with sudo when not root), as every
# packages/*/install-deps.sh asks: apt-install.sh LABEL [--quiet] PACKAGE... Idempotent: when everything is present
# it only checks and exits (silently with --quiet). --no-install-recommends keeps qemu and chromium from pulling in a
# desktop's worth of packages.
set -euo pipefail
label=$1
shift
quiet=false
if [ "${1:-}" = "--quiet" ]; then quiet=true; shift; fi

packages=("$@")
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  $quiet || echo "$label: ${packages[*]} already installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "$label: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
