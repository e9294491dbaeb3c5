#!/usr/bin/env bash
# Sets up a fresh machine for jobexec: a project-local Node >= 22.15 when the system one is older,
# pnpm at the version pinned in package.json, dependencies, a build, what jobs run published where every
# account can reach it (when this checkout is out of their reach), and the command links.
# Idempotent: a second run only checks. Never touches the system Node. A failed step shows the last lines
# of its output and exits 1 at once.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"
user_path=$PATH
. scripts/toolchain.sh
mkdir -p "$(dirname "$setup_log")"
: >"$setup_log"

ensure_node
ensure_pnpm

log "installing dependencies"
install_hint() { echo "$(registry_hint pnpm), and that pnpm-lock.yaml matches the package.json files"; }
run_step "pnpm install" install_hint pnpm install --frozen-lockfile
log "building"
build_hint() { echo "fix the error shown, then run setup again (pnpm nx run-many -t build --output-style=static shows every task's output)"; }
run_step "the build" build_hint pnpm nx run-many -t build --output-style=static

# Jobs run as unprivileged accounts: when they cannot enter this checkout (a clone under /root or in a
# `mktemp -d` directory), the Node binary and slow are published under /usr/local/lib/jobexec/ (root only).
slow_target="$root/bin/slow"
published=$(node packages/testing-slow/dist/publish-runtime.js)
if [ -n "$published" ]; then
  slow_target="$published/slow"
  log "other accounts cannot enter $root: jobs' Node and slow are published in $(dirname "$published")"
fi

bin_dir=${JOBEXEC_BIN_DIR:-}
if [ -z "$bin_dir" ]; then
  if [ -w /usr/local/bin ]; then bin_dir=/usr/local/bin; else bin_dir=$HOME/.local/bin; fi
fi
mkdir -p "$bin_dir"

# A link setup may re-point: one to a jobexec launcher (of this checkout or another), to a published slow,
# or to where a removed checkout's command was. Anything else (a real pnpm install, another program) is left.
ours() { # $1 command name, $2 path in bin_dir
  [ -L "$2" ] || return 1
  local target
  target=$(readlink "$2")
  case "$(readlink -f "$2" 2>/dev/null)" in */bin/launch) return 0 ;; esac
  case "$target" in /usr/local/lib/jobexec/*/bin/slow) return 0 ;; esac
  case "$target" in */bin/"$1") [ ! -e "$2" ] ;; *) return 1 ;; esac
}

link() { # $1 command name, $2 target; fails when it leaves a file that is not ours
  local path="$bin_dir/$1" current
  current=$(readlink "$path" 2>/dev/null || true)
  if [ "$current" = "$2" ]; then return; fi
  if [ -e "$path" ] || [ -L "$path" ]; then
    if ! ours "$1" "$path"; then
      log "left $path as it is (not a jobexec link${current:+: it points to $current}); this checkout's $1 is $2"
      return 1
    fi
    ln -sfn "$2" "$path"
    log "re-linked $path from $current to $2"
  else
    ln -s "$2" "$path"
    log "linked $path -> $2"
  fi
}

cmds="jobexec jobexec-server cgexec"
for cmd in $cmds; do link "$cmd" "$root/bin/$cmd" || true; done
link slow "$slow_target" || true
cmds="$cmds slow"
# pnpm too, when the user has none on PATH (a link to a jobexec launcher does not count): bin/pnpm runs ours
# with our Node first on PATH. A real pnpm in bin_dir is never replaced (link() leaves it).
existing_pnpm=$(PATH=$user_path command -v pnpm || true)
case "$existing_pnpm:$(readlink -f "$existing_pnpm" 2>/dev/null)" in
  :* | *:*/bin/launch) link pnpm "$root/bin/pnpm" && cmds="$cmds pnpm" ;;
esac
case ":$user_path:" in
  *":$bin_dir:"*) ;;
  *) log "add $bin_dir to PATH to use $cmds by name" ;;
esac
log "ready (node $(node --version), pnpm $(pnpm --version))"
