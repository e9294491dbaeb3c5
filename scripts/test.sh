#!/usr/bin/env bash
# Runs every test of every package (the VM tier included) and ends with one line of totals.
# Sets the machine up first (idempotent: seconds when already done).
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/setup.sh || exit 1
. scripts/toolchain.sh

out=$(mktemp)
trap 'rm -f "$out"' EXIT
pnpm nx run-many -t test --output-style=static --parallel="${JOBEXEC_TEST_PARALLEL:-2}" "$@" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}

# node:test's spec reporter ends each run with "ℹ pass N" / "ℹ fail N" / "ℹ skipped N" (coloured under Nx).
sum() { sed 's/\x1b\[[0-9;]*m//g' "$out" | grep -aE "^[[:space:]]*ℹ $1 [0-9]+$" | awk '{ s += $3 } END { print s + 0 }'; }
passed=$(sum pass) failed=$(sum fail) skipped=$(sum skipped)
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi # a package failed outside its tests
echo "total: $passed passed, $failed failed, $skipped skipped"
exit "$status"
