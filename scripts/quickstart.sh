#!/usr/bin/env bash
# From a fresh clone to a finished job: sets the machine up, creates development certificates, makes sure a
# jobexec-server answers (reusing one that accepts our certificates, else starting this checkout's own in the
# background), runs `jobexec start -- slow 10`, follows its output live and shows its final status. The server
# keeps running afterwards.
#
# The address is $JOBEXEC_LISTEN (default 127.0.0.1:50051). When something else holds it (a server that does not
# accept our certificates, or any other program), ours listens on a free port instead, and this says which
# JOBEXEC_SERVER to export. Our server keeps everything of its own: data in .run/data (or, when other accounts
# cannot enter this checkout, /var/lib/jobexec-quickstart/<key>, where jobs can reach their home directories),
# cgroup parent jobexec-quickstart-<key> (key: a hash of this checkout's path), log appended to .run/server.log,
# pid in .run/server.pid while it runs.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"
bash scripts/setup.sh
. scripts/toolchain.sh
export PATH="$root/bin:$PATH"
# When jobs cannot enter this checkout, the server must find the published slow first (see setup.sh).
published=$(node packages/testing-slow/dist/publish-runtime.js)
if [ -n "$published" ]; then export PATH="$published:$PATH"; fi

say() { printf 'quickstart: %s\n' "$*" >&2; }

run_dir="$root/.run"
pid_file="$run_dir/server.pid" address_file="$run_dir/server.address" log_file="$run_dir/server.log"
mkdir -p "$run_dir"
key=$(printf '%s' "$root" | sha256sum | cut -c1-16)
cgroup_parent="jobexec-quickstart-$key"
# Whether other accounts can pass through every directory from / down to $1 (as jobs must, to reach their homes
# in the data directory).
searchable_by_others() {
  local dir=$1
  while [ $((0$(stat -c %a "$dir") & 1)) -eq 1 ]; do
    if [ "$dir" = / ]; then return 0; fi
    dir=$(dirname "$dir")
  done
  return 1
}
data_dir="$run_dir/data"
if [ "$(id -u)" -eq 0 ] && ! searchable_by_others "$run_dir"; then
  data_dir="/var/lib/jobexec-quickstart/$key"
  install -d -m 755 /var/lib/jobexec-quickstart "$data_dir"
fi

config_dir=${JOBEXEC_CONFIG_DIR:-${XDG_CONFIG_HOME:-$HOME/.config}/jobexec}
if [ ! -f "$config_dir/ca.pem" ]; then
  say "creating development certificates in $config_dir"
  jobexec-server certs init >/dev/null
fi

# The pid in .run/server.pid, if it is our server's and alive; the file goes when it is not.
our_pid() {
  local pid
  pid=$(cat "$pid_file" 2>/dev/null) || return 1
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$root/packages/server/"; then
    echo "$pid"
    return 0
  fi
  rm -f "$pid_file"
  return 1
}
# Whether something accepts TCP connections on HOST:PORT ([V6]:PORT).
listening() {
  local host=${1%:*}
  host=${host#[} host=${host%]}
  (exec 3<>"/dev/tcp/$host/${1##*:}") 2>/dev/null
}
# Whether a jobexec-server on HOST:PORT accepts our certificates; its refusal, if any, in $refusal.
refusal=""
accepts_us() {
  refusal=$(JOBEXEC_SERVER=$1 jobexec list 2>&1 >/dev/null) && return 0
  refusal=$(printf '%s' "$refusal" | tail -n 1)
  return 1
}

listen=${JOBEXEC_LISTEN:-127.0.0.1:50051}
# Clients reach a server that listens on every interface through loopback (its certificate names 127.0.0.1).
case "${listen%:*}" in "" | 0.0.0.0 | "[::]" | "::") wanted="127.0.0.1:${listen##*:}" ;; *) wanted=$listen ;; esac

server="" pid=""
if pid=$(our_pid); then
  recorded=$(cat "$address_file" 2>/dev/null || true)
  if [ -n "$recorded" ] && accepts_us "$recorded"; then
    server=$recorded
    say "using this checkout's jobexec-server from an earlier run (pid $pid) on $server"
  else
    say "this checkout's jobexec-server (pid $pid) does not answer on ${recorded:-its address} (${refusal:-no address recorded}): stopping it"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pid_file"
    pid=""
  fi
fi
if [ -z "$server" ] && listening "$wanted"; then
  if accepts_us "$wanted"; then
    server=$wanted
    say "a jobexec-server already answers on $server and accepts our certificates: using it (this checkout starts none)"
  else
    say "$wanted is taken by something that does not accept our certificates ($refusal): starting ours on a free port"
    listen="${listen%:*}:0"
  fi
fi

if [ -z "$server" ]; then
  start=$(($(stat -c %s "$log_file" 2>/dev/null || echo 0) + 1))
  printf -- '--- %s quickstart: starting jobexec-server --listen %s --data-dir %s --cgroup-parent %s\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$listen" "$data_dir" "$cgroup_parent" >>"$log_file"
  say "starting jobexec-server in the background (log: $log_file, data: $data_dir)"
  # A small keeper in its own session writes the server's pid and removes it when the server exits, however
  # it exits, so .run/server.pid only ever names a live server.
  setsid bash -c '
    pid_file=$1; shift
    "$@" &
    pid=$!
    echo "$pid" >"$pid_file.tmp" && mv "$pid_file.tmp" "$pid_file"
    status=0
    wait "$pid" || status=$?
    if [ "$(cat "$pid_file" 2>/dev/null)" = "$pid" ]; then rm -f "$pid_file"; fi
    printf -- "--- %s quickstart: jobexec-server (pid %s) exited with status %s\n" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$pid" "$status"
  ' quickstart-keeper "$pid_file" jobexec-server --listen "$listen" --data-dir "$data_dir" --cgroup-parent "$cgroup_parent" \
    </dev/null >>"$log_file" 2>&1 &
  # Its "listening" log line names the address it got (the port may have been 0).
  for _ in $(seq 300); do
    address=$(tail -c "+$start" "$log_file" | grep -a '"msg":"listening"' | grep -aoE '"address":"[^"]+"' | head -n 1 | cut -d'"' -f4 || true)
    if [ -n "$address" ]; then
      case "${address%:*}" in "" | 0.0.0.0 | "[::]" | "::") address="127.0.0.1:${address##*:}" ;; esac
      if accepts_us "$address"; then server=$address; break; fi
    fi
    if tail -c "+$start" "$log_file" | grep -aq 'quickstart: jobexec-server (pid [0-9]*) exited'; then break; fi
    sleep 0.1
  done
  if [ -z "$server" ]; then
    pid=$(our_pid || true)
    if [ -n "$pid" ]; then kill "$pid"; fi
    tail -c "+$start" "$log_file" | tail -n 15 | sed 's/^/    /' >&2
    say "jobexec-server did not come up${address:+ on $address}${refusal:+ ($refusal)}; its log is above and in $log_file"
    exit 1
  fi
  echo "$server" >"$address_file"
  pid=$(our_pid || true)
fi
export JOBEXEC_SERVER=$server

set -x
ID=$(jobexec start -- slow 10)
jobexec logs -f "$ID"
jobexec status "$ID"
{ set +x; } 2>/dev/null
if [ -n "$pid" ]; then
  say "the server keeps running (pid $pid, log $log_file); stop it with: kill \$(cat $pid_file)"
fi
if [ "$server" != "127.0.0.1:50051" ]; then
  say "the server is on $server, not the default: to use it, export JOBEXEC_SERVER=$server"
fi
