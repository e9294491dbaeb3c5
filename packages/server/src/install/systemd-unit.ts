/** What a server restart does to running jobs: the server stops them, or leaves them to the next server. */
export type OnShutdown = "stop" | "keep";

/** Options of {@link systemdUnit}. */
export interface UnitOptions {
  /** The command line that starts the server (absolute program path first). */
  exec: string;
  onShutdown: OnShutdown;
}

/** The default command of the unit: the link scripts/setup.sh makes for root. */
export const DEFAULT_EXEC = "/usr/local/bin/jobexec-server";

/**
 * The systemd unit of jobexec-server. packaging/systemd/jobexec-server.service is this text for the defaults
 * (a test keeps it so); `jobexec-server install-unit` writes it with this machine's paths.
 *
 * Everything the jobs do happens inside this unit: they are processes in its cgroup sub-tree and its mount, user and
 * network namespaces, under its capabilities and seccomp filters. So the unit is hardened only where that leaves job
 * control whole (cgroup writes, setuid/setgid to the jobs' accounts, signals, mounts for per-job isolation), and
 * every option says why it is there or why a common one is not.
 */
export function systemdUnit(options: UnitOptions): string {
  const keep = options.onShutdown === "keep";
  const killMode = keep
    ? [
        "# --on-shutdown=keep: a stop or restart signals the server only; the jobs keep running in their cgroups and",
        "# the next server adopts them (like Docker's live-restore). `systemctl kill jobexec-server` still kills all.",
        "KillMode=process",
      ]
    : [
        "# --on-shutdown=stop: SIGTERM goes to the server alone, which stops every job itself (SIGTERM to the job's",
        "# cgroup, its grace period, then cgroup.kill) and records them as stopped by the shutdown; whatever is left",
        "# when the server has exited (or TimeoutStopSec ran out) is then SIGKILLed by systemd.",
        "KillMode=mixed",
      ];
  return `# jobexec-server as a systemd service. Install (as root):
#   jobexec-server install-unit      # writes /etc/systemd/system/jobexec-server.service for this machine
#   systemctl daemon-reload && systemctl enable --now jobexec-server
# Certificates: JOBEXEC_CONFIG_DIR=/etc/jobexec jobexec-server certs init --san "$(hostname)" before the first start.
# Settings: JOBEXEC_* variables (see jobexec-server --help) in /etc/jobexec/server.env, e.g.
#   JOBEXEC_LISTEN=0.0.0.0:50051
#   JOBEXEC_METRICS_LISTEN=127.0.0.1:9464
# Health: Type=simple (no sd_notify); check with the gRPC health service, e.g.
#   curl --cacert /etc/jobexec/ca.pem --cert /etc/jobexec/client.pem --key /etc/jobexec/client.key \\
#     -H 'content-type: application/json' -d '{}' https://127.0.0.1:50051/grpc.health.v1.Health/Check

[Unit]
Description=jobexec server: runs jobs under cgroup v2 limits for authenticated gRPC clients
After=network.target

[Service]
Type=simple
ExecStart=${options.exec}
Environment=JOBEXEC_ON_SHUTDOWN=${options.onShutdown}
# /etc/jobexec (certificates, server.env) and /var/lib/jobexec (job records and output), made by systemd.
ConfigurationDirectory=jobexec
ConfigurationDirectoryMode=0700
StateDirectory=jobexec
# 0711: jobs run as dynamic accounts, which pass through it to their homes (the server refuses a 0700 one).
StateDirectoryMode=0711
Environment=JOBEXEC_CONFIG_DIR=/etc/jobexec JOBEXEC_DATA_DIR=/var/lib/jobexec
EnvironmentFile=-/etc/jobexec/server.env

# The server makes one cgroup per job below its own: without delegation systemd may move or kill them.
Delegate=yes
# The server starts in the leaf <unit cgroup>/supervisor and uses the unit's cgroup as its tree. Honoured by systemd
# >= 254; an older one logs an unknown-key warning and ignores it, and then --on-shutdown=keep cannot survive a
# restart: kept jobs hold controllers below the unit's cgroup, which then takes no process (219/CGROUP).
DelegateSubgroup=supervisor
${killMode.join("\n")}
# Longer than the jobs' stop grace period (--grace, default 5s) plus the time to drain open calls.
TimeoutStopSec=60s
Restart=on-failure
RestartSec=2s

# The jobs count against the unit: systemd's defaults would cap all jobs together (TasksMax is 15% of the
# system's pids), and stop the whole service when one job's memory limit OOM-kills it. Each job has its own limits.
TasksMax=infinity
OOMPolicy=continue
# Many clients and followers, each a connection or a stream.
LimitNOFILE=65536

# Hardening that leaves job control whole:
# a job cannot take a CPU from every other user with a realtime scheduling policy,
RestrictRealtime=yes
# nor leave a setuid or setgid program behind for later (the server's own setuid/setgid calls are unaffected).
RestrictSUIDSGID=yes
# Not set, on purpose:
# - NoNewPrivileges, CapabilityBoundingSet, AmbientCapabilities: they would bind the server, which needs setuid/setgid,
#   kill and mount capabilities. Jobs get no_new_privs anyway (set per job before its exec): a setuid program
#   (sudo, ping) gives a job nothing.
# - ProtectSystem, ProtectHome, PrivateTmp, ProtectHostname and the other options that give the unit a mount
#   namespace of its own: it would be every job's (mounts made by jobs unseen by the host, paths hidden from jobs);
#   isolation is the server's business, per job.
# - ProtectControlGroups, ProtectKernelTunables: /sys/fs/cgroup must stay writable for the job cgroups.
# - DevicePolicy, DeviceAllow, ProtectClock (which implies them): jobs may use devices, e.g. the disks of their IO limits.
# - SystemCallArchitectures, MemoryDenyWriteExecute, RestrictAddressFamilies, RestrictNamespaces, UMask: they would
#   change what arbitrary job programs can do (32-bit binaries, JITs, sockets, namespaces, file modes).

[Install]
WantedBy=multi-user.target
`;
}
