#!/usr/bin/env bash
# Sets up a fresh machine for jobexec: a project-local Node >= 22.15 when the system one is older,
# pnpm at the version pinned in package.json, dependencies, a build, and the command wrappers.
# Idempotent: a second run only checks. Never touches the system Node.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
user_path=$PATH
. scripts/toolchain.sh

ensure_node
ensure_pnpm

log "installing dependencies"
pnpm install --frozen-lockfile --reporter=silent

log "building"
pnpm nx run-many -t build --output-style=static >/dev/null

bin_dir=${JOBEXEC_BIN_DIR:-}
if [ -z "$bin_dir" ]; then
  if [ -w /usr/local/bin ]; then bin_dir=/usr/local/bin; else bin_dir=$HOME/.local/bin; fi
fi
mkdir -p "$bin_dir"
cmds="jobexec jobexec-server cgexec slow"
# pnpm too, when the user has none (or only a link to a jobexec launcher, of this checkout or another one):
# bin/pnpm runs ours with our Node first on PATH.
existing_pnpm=$(PATH=$user_path command -v pnpm || true)
case "$existing_pnpm:$(readlink -f "$existing_pnpm" 2>/dev/null)" in
  :* | *:*/bin/launch) cmds="$cmds pnpm" ;;
esac
for cmd in $cmds; do
  target="$root/bin/$cmd"
  if [ "$(readlink "$bin_dir/$cmd" 2>/dev/null)" != "$target" ]; then
    ln -sfn "$target" "$bin_dir/$cmd"
    log "linked $bin_dir/$cmd -> $target"
  fi
done
case ":$user_path:" in
  *":$bin_dir:"*) ;;
  *) log "add $bin_dir to PATH to use $cmds by name" ;;
esac
log "ready (node $(node --version), pnpm $(pnpm --version))"
