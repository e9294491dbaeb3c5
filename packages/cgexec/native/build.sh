#!/bin/sh
# Builds dist/cgexec-enter from native/cgexec-enter.c: statically linked where the C library allows it (no dynamic
# loader runs as root before the job's program, whatever the environment), else dynamically. Every job that drops to an
# account or is isolated ends with it (it sets no_new_privs while still root, which Node cannot do): without a C
# compiler the package still builds, and such jobs are then refused, saying why.
cd "$(dirname "$0")/.." || exit 1
mkdir -p dist
rm -f dist/cgexec-isolate
cc=${CC:-cc}
flags="-O2 -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2"
if ! command -v "$cc" >/dev/null 2>&1; then
  rm -f dist/cgexec-enter
  echo "cgexec: no C compiler ($cc): cgexec-enter not built, jobs cannot drop to an account or be isolated" >&2
  exit 0
fi
"$cc" $flags -static -o dist/cgexec-enter native/cgexec-enter.c 2>/dev/null || "$cc" $flags -o dist/cgexec-enter native/cgexec-enter.c
