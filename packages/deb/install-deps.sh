#!/usr/bin/env bash
# Installs what building and checking the Debian package needs besides dpkg-deb (dpkg is essential): strip (binutils)
# for the bundled Node and cgexec-enter, and lintian, whose verdict the package's test checks. Idempotent: when
# everything is present it only checks and exits (silently with --quiet, as scripts/test.sh runs it).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../../scripts/apt-install.sh" deb "$@" binutils lintian
