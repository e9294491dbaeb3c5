#!/usr/bin/env bash
# Runs every test of every package (the VM tier included) and ends with one line of totals, which also says
# whether the VM tier ran. Sets the machine up first (idempotent: seconds when already done); as root where
# apt-get is, that includes the VM tier's system packages (packages/testing-vm/install-deps.sh, as CI does).
# Arguments go to `nx run-many -t test` (e.g. -p @jobexec/core).
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"
bash scripts/setup.sh || exit 1
. scripts/toolchain.sh

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null && command -v dpkg-query >/dev/null; then
  bash packages/testing-vm/install-deps.sh --quiet ||
    echo "test: installing the VM tier's packages failed (see above); the VM tier will say what it misses" >&2
  bash packages/deb/install-deps.sh --quiet ||
    echo "test: installing the Debian package's tools failed (see above); its tests will say what they miss" >&2
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
pnpm nx run-many -t test --output-style=static --parallel="${JOBEXEC_TEST_PARALLEL:-2}" "$@" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}

plain() { sed 's/\x1b\[[0-9;]*m//g' "$out"; }
# node:test's spec reporter ends each run with "ℹ pass N" / "ℹ fail N" / "ℹ skipped N" (coloured under Nx).
sum() { plain | grep -aE "^[[:space:]]*ℹ $1 [0-9]+$" | awk '{ s += $3 } END { print s + 0 }'; }
passed=$(sum pass) failed=$(sum fail) skipped=$(sum skipped)
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi # a package failed outside its tests
# The VM tier's last line (packages/testing-vm/src/main.ts): "testing-vm: vm tier: ran N tests ..." or "... skipped (why)".
vm=$(plain | grep -aoE 'testing-vm: vm tier: .*' | tail -n 1 | sed 's/^testing-vm: //')
# ... and its systemd tier's (packages/testing-vm/src/systemd/main.ts), run after it.
systemd=$(plain | grep -aoE 'testing-vm: systemd tier: .*' | tail -n 1 | sed 's/^testing-vm: //')
echo "total: $passed passed, $failed failed, $skipped skipped; ${vm:-vm tier: did not run (its Nx task did not start or ended early: see above)}; ${systemd:-systemd tier: did not run (see above)}"
exit "$status"
