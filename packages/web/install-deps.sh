#!/usr/bin/env bash
# Installs Debian's Chromium, which the browser tests of `jobexec ui` (packages/cli/src/ui/ui.test.ts) drive with
# playwright-core: the project never downloads a browser of its own. Without it those tests skip with one line.
# Idempotent: when Chromium is present it only checks and exits (silently with --quiet).
set -euo pipefail
quiet=false
if [ "${1:-}" = "--quiet" ]; then quiet=true; fi

packages=(chromium)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  $quiet || echo "web: ${packages[*]} already installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "web: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
