#!/bin/sh
# Builds dist/cgexec-isolate from native/cgexec-isolate.c: statically linked where the C library allows it (no
# dynamic loader runs before the job's program, whatever the environment), else dynamically. Without a C compiler
# the package still builds: isolation is then unavailable, and jobs that ask for it are refused, saying why.
cd "$(dirname "$0")/.." || exit 1
mkdir -p dist
cc=${CC:-cc}
flags="-O2 -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2"
if ! command -v "$cc" >/dev/null 2>&1; then
  rm -f dist/cgexec-isolate
  echo "cgexec: no C compiler ($cc): cgexec-isolate not built, isolation is unavailable" >&2
  exit 0
fi
"$cc" $flags -static -o dist/cgexec-isolate native/cgexec-isolate.c 2>/dev/null || "$cc" $flags -o dist/cgexec-isolate native/cgexec-isolate.c
