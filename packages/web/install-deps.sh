#!/usr/bin/env bash
# Installs Debian's Chromium, which the browser tests of `jobexec ui` (packages/cli/src/ui/ui.test.ts) drive with
# playwright-core: the project never downloads a browser of its own. Without it those tests skip with one line.
# Idempotent: when Chromium is present it only checks and exits (silently with --quiet).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../../scripts/apt-install.sh" web "$@" chromium
