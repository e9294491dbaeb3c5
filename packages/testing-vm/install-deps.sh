#!/usr/bin/env bash
# Installs what the VM test tier needs: qemu (TCG is enough), a Debian kernel with its modules, a static
# busybox for the initramfs, mkfs.ext4 for the scratch disks and openssl for the in-VM server test
# certificates; cpio and file check the harness's own output in its host tests; debootstrap makes the systemd tier's
# Debian root file system.
# Idempotent: when everything is present it only checks and exits (silently with --quiet, as scripts/test.sh
# runs it).
set -euo pipefail
quiet=false
if [ "${1:-}" = "--quiet" ]; then quiet=true; fi

packages=(qemu-system-x86 linux-image-amd64 busybox-static e2fsprogs openssl cpio file debootstrap)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  $quiet || echo "testing-vm: ${packages[*]} already installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "testing-vm: installing ${missing[*]}"
$sudo apt-get update -qq
# --no-install-recommends keeps qemu from pulling in a desktop's worth of packages.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
