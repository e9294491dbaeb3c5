#!/usr/bin/env bash
# Installs what the VM test tier needs: qemu (TCG is enough), a Debian kernel with its modules, a static
# busybox for the initramfs, mkfs.ext4 for the scratch disks and openssl for the in-VM server test
# certificates; cpio and file check the harness's own output in its host tests; debootstrap makes the systemd tier's
# Debian root file system.
# Idempotent: when everything is present it only checks and exits (silently with --quiet, as scripts/test.sh
# runs it).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../../scripts/apt-install.sh" testing-vm "$@" qemu-system-x86 linux-image-amd64 busybox-static e2fsprogs openssl cpio file debootstrap
