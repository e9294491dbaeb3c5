#!/usr/bin/env bash
# From a fresh clone to a finished job: sets the machine up, creates development certificates, starts
# jobexec-server in the background (if it is not already running), runs `jobexec start -- slow 10`,
# follows its output live and shows its final status. The server keeps running afterwards.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/setup.sh
. scripts/toolchain.sh
export PATH="$root/bin:$PATH"

run_dir="$root/.run"
mkdir -p "$run_dir"
config_dir=${JOBEXEC_CONFIG_DIR:-${XDG_CONFIG_HOME:-$HOME/.config}/jobexec}
if [ ! -f "$config_dir/ca.pem" ]; then
  log "creating development certificates in $config_dir"
  jobexec-server certs init
fi

if ! jobexec list >/dev/null 2>&1; then
  log "starting jobexec-server in the background (log: $run_dir/server.log)"
  nohup jobexec-server >"$run_dir/server.log" 2>&1 &
  echo $! >"$run_dir/server.pid"
  for _ in $(seq 100); do
    jobexec list >/dev/null 2>&1 && break
    kill -0 "$(cat "$run_dir/server.pid")" 2>/dev/null || { cat "$run_dir/server.log" >&2; exit 1; }
    sleep 0.1
  done
fi

set -x
ID=$(jobexec start -- slow 10)
jobexec logs -f "$ID"
jobexec status "$ID"
{ set +x; } 2>/dev/null
log "the server keeps running (pid $(cat "$run_dir/server.pid" 2>/dev/null || echo unknown)); stop it with: kill \$(cat $run_dir/server.pid)"
