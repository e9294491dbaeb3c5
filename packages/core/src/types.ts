/**
 * Where a job is in its life: queued (only while the host or its owner is at capacity), running, then exactly one of
 * exited, stopped or failed. A queued job may end without running: stopped (stop reason "cancelled") or failed.
 */
export type JobState = "queued" | "running" | "exited" | "stopped" | "failed";

/** How a job's stdout and stderr are captured: apart, or stderr merged into stdout at the source. */
export type OutputMode = "separate" | "merged";

/**
 * Why a job was stopped: a stop() call ("requested"), the manager's close() ("server_shutdown"), its timeout, its
 * output limit, or a stop() call while it was queued ("cancelled": it never started).
 */
export type StopReason = "requested" | "server_shutdown" | "timeout" | "output_limit" | "cancelled";

/** One output stream of a job. */
export type StreamName = "stdout" | "stderr";

/** A limit on a job's IO on one block device; at least one of the four rates is set. */
export interface IoLimit {
  /** "MAJ:MIN", or a path (a block device node, or a file whose filesystem's device is used). */
  device: string;
  readBps?: number;
  writeBps?: number;
  readIops?: number;
  writeIops?: number;
}

/** An IO limit as applied: the device resolved to its whole disk. */
export interface AppliedIoLimit extends IoLimit {
  /** The whole disk the limit was written for, "MAJ:MIN". */
  resolvedDevice: string;
}

/** cgroup v2 limits of a job; an absent field means no limit. */
export interface Limits {
  /** CPU bandwidth in CPUs (0.5 = half a CPU), > 0 and at most the host's CPU count: cpu.max. */
  cpu?: number;
  /** Relative CPU weight, an integer 1..10000: cpu.weight. */
  cpuWeight?: number;
  /** Hard memory limit in bytes, a positive integer: memory.max (with memory.swap.max 0, memory.oom.group 1). */
  memoryMaxBytes?: number;
  /** Maximum number of tasks, a positive integer: pids.max. */
  pidsMax?: number;
  /** Per-device IO limits: io.max. */
  io?: IoLimit[];
}

/**
 * What a job is kept from besides its limits and its account, as it got it (every field set). Each is taken between
 * joining the job's cgroup and dropping to its account, and holds against that account: a job running as root
 * (run-as "server" as root) could undo the mounts.
 */
export interface Isolation {
  /** A network namespace of its own with only `lo` (up): no connection to or from the host, its loopback included. */
  privateNetwork: boolean;
  /** A fresh tmpfs on /tmp and on /var/tmp, seen by no other process, gone when the job ends. */
  privateTmp: boolean;
  /** Size limit of each private tmpfs in bytes (its pages also count against the job's memory limit); 0 without one. */
  privateTmpBytes: number;
  /** Every mount but /proc, /sys and /dev read-only (/, /usr, /etc, /boot, /opt...), but the job's home, cwd and private /tmp. */
  readOnlySystem: boolean;
}

/** Isolation asked for: an absent field takes the manager's default ({@link ManagerOptions.defaultIsolation}). */
export type IsolationSpec = Partial<Isolation>;

/** What to run. */
export interface JobSpec {
  /** A name looked up on PATH, or a path (relative paths are relative to cwd). */
  program: string;
  args?: string[];
  /**
   * Extra environment on top of the minimal base (PATH, LANG, LC_ALL, TZ when set, HOME, USER and LOGNAME of the
   * job's account, JOBEXEC_JOB_ID).
   */
  env?: Record<string, string>;
  /** Absolute working directory, which the job's account must be able to enter; default its home directory. */
  cwd?: string;
  limits?: Limits;
  /** Default "separate". */
  outputMode?: OutputMode;
  /**
   * Most output bytes, stdout and stderr together; default and ceiling: the manager's
   * {@link ManagerOptions.maxOutputBytes}. A job that writes more is killed (stop reason "output_limit").
   */
  maxOutputBytes?: number;
  /**
   * Longest the job may run, in milliseconds; then it is stopped like stop() with the default grace period (stop
   * reason "timeout"). Default none, or the manager's {@link ManagerOptions.maxTimeoutMs}, which is also its ceiling.
   */
  timeoutMs?: number;
  /** Namespaces and mounts the job runs in; each absent field takes the manager's default (none by default). */
  isolation?: IsolationSpec;
}

/** Resource usage read from a job's cgroup. */
export interface Usage {
  cpuUsageUsec: number;
  cpuUserUsec: number;
  cpuSystemUsec: number;
  cpuThrottledUsec: number;
  memoryCurrentBytes: number;
  memoryPeakBytes: number;
  ioReadBytes: number;
  ioWriteBytes: number;
  pidsCurrent: number;
  /**
   * Figures this host cannot measure: "memory" (memoryCurrentBytes, memoryPeakBytes), "io" (ioReadBytes,
   * ioWriteBytes), "pids" (pidsCurrent), "cpu_throttling" (cpuThrottledUsec, which needs the cpu controller),
   * "cpu" (the CPU times: only without cgroups). Figures listed here read 0.
   */
  unavailable: string[];
  // The figures below are absent, never 0, where the host does not expose them (no controller, an older kernel).
  /** Enforcement periods elapsed and those throttled (cpu.stat nr_periods, nr_throttled; the cpu controller with a cpu.max). */
  cpuPeriods?: number;
  cpuThrottledPeriods?: number;
  /** Highest swap use, in bytes (memory.swap.peak, Linux 6.5+). */
  memorySwapPeakBytes?: number;
  /** Counts of memory.events (this cgroup and its descendants). */
  memoryEvents?: MemoryEvents;
  /** Read and write operations on block devices (io.stat rios, wios, all devices). */
  ioReadOps?: number;
  ioWriteOps?: number;
  /** Most processes and threads the job had at once (pids.peak, Linux 6.1+). */
  pidsPeak?: number;
  /** Pressure stall information (cpu|memory|io.pressure; kernels with PSI). */
  pressure?: { cpu?: Pressure; memory?: Pressure; io?: Pressure };
}

/** A job's memory.events: how often the kernel acted on its memory. */
export interface MemoryEvents {
  /** Allocations that hit memory.max and found nothing to reclaim (the OOM killer was invoked). */
  oom: number;
  /** Processes the OOM killer killed. With a job that exited normally, they were others than its main process. */
  oomKill: number;
  /** Times memory.high was exceeded (reclaim was forced). */
  high: number;
  /** Times memory.max was about to be exceeded. */
  max: number;
}

/**
 * Pressure stall information of one resource. `some`: time at least one of the job's tasks waited on the resource;
 * `full`: time all its non-idle tasks waited at once.
 */
export interface Pressure {
  someTotalUsec: number;
  /** Absent where the kernel has no "full" line (cpu before Linux 5.13). */
  fullTotalUsec?: number;
  /** Live only (absent once the job ended): the share of the last 10 and 60 seconds stalled, in percent. */
  someAvg10?: number;
  someAvg60?: number;
  fullAvg10?: number;
  fullAvg60?: number;
}

/** One point of a {@link UsageTimeline}. */
export interface UsageSample {
  /** When the point's period ended (milliseconds since the epoch). */
  atMs: number;
  /** Average CPU use over the point's period, in CPUs (1 = one CPU busy); absent without CPU figures. */
  cpu?: number;
  /** Highest memory.current sampled in the point's period, in bytes; absent without the memory controller. */
  memoryBytes?: number;
}

/**
 * A job's usage over time, sampled every `intervalMs` while it ran. A long run's points are merged in pairs as they
 * accumulate (a point then covers several intervals), so that the whole run fits a bounded number of points.
 */
export interface UsageTimeline {
  intervalMs: number;
  samples: UsageSample[];
}

/** Options of {@link JobManager.get}. */
export interface GetOptions {
  /** Include the job's usage timeline ({@link Job.timeline}). */
  timeline?: boolean;
}

/** Usage totals of the jobs of one owner that ended since the manager was created, for metrics. */
export interface UsageTotals {
  jobs: number;
  cpuUsec: number;
  cpuThrottledUsec: number;
  /** memory.events counts, summed. */
  oom: number;
  oomKill: number;
  memoryHigh: number;
  memoryMax: number;
  /** Total stall times ("some" and "full" per resource), in microseconds. */
  stallUsec: Record<"cpu" | "memory" | "io", { some: number; full: number }>;
}

/** The account a job's processes ran as. */
export interface JobAccount {
  /** The identity for a dynamic account, the local account's name for a mapped one, the server's user otherwise. */
  name: string;
  uid: number;
  /** Primary group id. */
  gid: number;
}

/** A snapshot of everything known about a job. */
export interface Job {
  id: string;
  /**
   * The job's place in creation order: a positive integer, larger for every newer job of the manager's data
   * directory, never reused. Listings are ordered by it; {@link ListFilter.olderThan} pages by it.
   */
  seq: number;
  owner: string;
  program: string;
  args: string[];
  cwd: string;
  state: JobState;
  /** Main process id; 0 if it never ran. */
  pid: number;
  /** Set when the main process exited on its own. */
  exitCode?: number;
  /** Set when a signal terminated the main process, e.g. "SIGKILL". */
  signal?: string;
  oomKilled: boolean;
  createdAt: Date;
  startedAt?: Date;
  endedAt?: Date;
  /** Who stopped it (state "stopped", stop reason "requested"). */
  stoppedBy?: string;
  /** Why it was stopped (state "stopped"). */
  stopReason?: StopReason;
  /** Set while a stop is under way (state still "running"): why, by whom, since when, and when SIGKILL follows. */
  stopping?: { reason: StopReason; requestedBy?: string; beganAt: Date; killAt: Date };
  /**
   * Set when how the main process ended cannot be known (exitCode and signal are then absent, never guessed):
   * e.g. "the server restarted while the job ran".
   */
  exitStatusUnknownReason?: string;
  /** True when the job ended while no manager was running: endedAt is when the next one noticed. */
  endTimeApproximate?: boolean;
  /** The output limit applied, stdout and stderr together, in bytes. */
  maxOutputBytes: number;
  /** The timeout applied, in milliseconds; absent when none. */
  timeoutMs?: number;
  /** Why it could not start (state "failed"). */
  failureReason?: string;
  limits: Omit<Limits, "io"> & { io?: AppliedIoLimit[] };
  /** Live from the cgroup in get() while running; final (read just before the cgroup was removed) once ended. */
  usage: Usage;
  /** Only from get() with `timeline`: live while running (up to the last sample), final once ended. */
  timeline?: UsageTimeline;
  /** Bytes written so far to each stream (in merged mode everything is in stdout). */
  output: { stdout: number; stderr: number };
  outputMode: OutputMode;
  /** The job's cgroup directory; absent when the host has no cgroup v2 and the job ran unconfined. */
  cgroup?: string;
  /** The account it ran as; absent when it never ran (state "failed"). */
  account?: JobAccount;
  /** The isolation it runs with (as asked for, with the manager's defaults). */
  isolation: Isolation;
  /** Its priority among its owner's queued jobs ({@link StartOptions.priority}); absent when 0. */
  priority?: number;
  /**
   * Set while queued: its place among its owner's queued jobs (1: next to start) and what it waits for, e.g.
   * "slot: alice has 64 running (--max-running-per-user)".
   */
  queue?: { position: number; reason: string };
  /** While queued: the jobs it waits for ({@link StartOptions.after}). */
  after?: JobDependency[];
  /** While queued: the moment it waits for ({@link StartOptions.notBefore}). */
  notBefore?: Date;
}

/** The queue's figures now ({@link JobManager.queueFigures}). */
export interface QueueFigures {
  /** Queued jobs waiting for capacity (their turn, a slot, memory or CPU). */
  queued: number;
  /** Queued jobs held back by a dependency or a start time. */
  held: number;
  /** Jobs running (counted from their admission). */
  running: number;
  /** Memory and CPUs the running jobs' limits reserve. */
  reservedMemoryBytes: number;
  reservedCpus: number;
  /** The capacities admission works with; maxRunning Infinity for none. */
  capacity: { maxRunning: number; memoryBytes: number; cpus: number };
}

/** One owner's part of the queue now ({@link JobManager.queueOwners}). */
export interface OwnerQueueFigures {
  owner: string;
  /** Jobs running (counted from their admission). */
  running: number;
  /** Queued jobs waiting for capacity (their turn, a slot, memory or CPU). */
  queued: number;
  /** Queued jobs held back by a dependency or a start time. */
  held: number;
  /** Memory and CPUs the owner's running jobs' limits reserve. */
  reservedMemoryBytes: number;
  reservedCpus: number;
  /** The owner's fair-share weight ({@link QueueOptions.weights}). */
  weight: number;
  /** What the owner's next job waiting for capacity waits for (its Job.queue reason); "" when none does. */
  next: string;
}

/** What happened to a job: accepted (queued or running), a queued job started, ended, removed. */
export type JobChangeKind = "created" | "started" | "ended" | "deleted";

/** One change of a job ({@link JobManager.watch}). */
export interface JobChange {
  /** Grows by one with every change of the manager's epoch. */
  sequence: number;
  kind: JobChangeKind;
  /** The job after the change (as it was, for "deleted"). */
  job: Job;
}

/** Where a watch starts ({@link JobManager.watch}). */
export interface WatchPosition {
  /** The manager's epoch: sequences compare only within one. */
  epoch: string;
  /** The sequence of the last change before the first one handed to the listener. */
  sequence: number;
  /** The changes since the requested position cannot be handed over: list the jobs again first. */
  resync: boolean;
  /** Why a resync is needed. */
  reason?: string;
}

/** A run of bytes of one stream, at its byte offset in that stream. */
export interface OutputChunk {
  stream: StreamName;
  offset: number;
  /**
   * The bytes; followers of one job in step share them: treat them as read-only. They stay valid for as long as the
   * consumer keeps them, unless it calls {@link releaseChunk} on them: that says it is done (e.g. they were written
   * to a socket), and a large chunk's buffer may then be reused for other bytes at any time.
   */
  data: Uint8Array;
}

/**
 * Where {@link JobManager.deliverOutput} pushes a job's output. Followers in step are handed the same chunk object:
 * treat it, like its data, as read-only.
 */
export interface OutputSink {
  /**
   * Takes one chunk (its data held for the sink, as {@link OutputChunk} says); false when the sink can take no more
   * until {@link ready} settles. Should not throw: an error thrown ends this delivery with it.
   */
  write(chunk: OutputChunk): boolean;
  /** Settles once the sink can take chunks again (or will never: then the delivery's signal should be aborted). */
  ready(): Promise<void>;
}

/** Where an output read starts: byte offsets per stream, or each stream's last N lines. */
export type OutputStart = { stdout?: number; stderr?: number } | { tailLines: number };

/** Options of {@link JobManager.output}. */
export interface OutputOptions {
  /** Default "both". */
  stream?: StreamName | "both";
  /** Keep reading until the job ended and every byte was delivered. */
  follow?: boolean;
  /** Default: the beginning of each stream. */
  from?: OutputStart;
  /** Ends the iteration early and releases the reader's file handles and watcher. */
  signal?: AbortSignal;
}

/** Options of {@link JobManager.stop}. */
export interface StopOptions {
  /** Milliseconds between SIGTERM and killing what remains; default the manager's (5000). */
  graceMs?: number;
  /** Identity recorded as the stopper. */
  by?: string;
  signal?: AbortSignal;
}

/** Filter of {@link JobManager.list}; absent fields match everything. */
export interface ListFilter {
  owner?: string;
  states?: JobState[];
  /** Only jobs older than the one with this {@link Job.seq}: the next page after a job. */
  olderThan?: number;
  /** At most this many jobs (a positive integer); default all. */
  limit?: number;
}

/** How the host offers cgroup v2: the only hierarchy, beside v1 hierarchies, or not at all. */
export type CgroupMode = "unified" | "hybrid" | "none";

/** The cgroup set-up a manager works in, for start-up logs and status. */
export interface CgroupInfo {
  mode: CgroupMode;
  /** Where the cgroup2 filesystem is mounted. */
  root?: string;
  /** The manager's sub-tree: the directory holding one cgroup per job. */
  parent?: string;
  /** Controllers enabled for jobs (subset of cpu, io, memory, pids); limits need theirs. */
  controllers: string[];
}

/** Something worth logging that happened inside the manager. */
export interface LogEvent {
  level: "info" | "warn" | "error";
  message: string;
  jobId?: string;
  /** A cgroup directory the event is about. */
  cgroup?: string;
  error?: unknown;
}

/**
 * Whose uid jobs run as: "dynamic", a uid of its own per identity from a range (like systemd's DynamicUser=);
 * "mapped", the local account a user map names for the identity; "server", the server's own user.
 */
export type RunAs = "dynamic" | "mapped" | "server";

/** An inclusive range of uids. */
export interface UidRange {
  first: number;
  last: number;
}

/** Which accounts jobs run as; see {@link RunAs}. */
export interface AccountOptions {
  /** Default "dynamic" (which needs root). */
  runAs?: RunAs;
  /** The uids (each used as a gid too) of dynamic accounts; default 61184-65519, systemd's DynamicUser= range. */
  uidRange?: UidRange;
  /**
   * The user map of "mapped" mode: lines `IDENTITY: ACCOUNT` (IDENTITY may hold `*` globs, e.g. `ci-*`; ACCOUNT is
   * a local account, with `!` after it when its uid is 0), `#` comments. Read once, at create().
   */
  userMapFile?: string;
}

/** How a job a queued job waits for must end: exit 0 ("succeeded"), any other end ("failed"), any end ("ended"). */
export type DependencyCondition = "succeeded" | "ended" | "failed";

/** A job that a job waits for ({@link StartOptions.after}), and how it must end. */
export interface JobDependency {
  id: string;
  condition: DependencyCondition;
}

/** Options of {@link JobManager.start}. */
export interface StartOptions {
  /**
   * The most jobs the owner may have running at once, this one included; one more is JobError
   * "resource_exhausted" naming the limit (and `name`, e.g. the setting behind it). Default no limit.
   */
  quota?: { maxRunning: number; name?: string };
  /**
   * Orders the job among its owner's queued jobs: higher first, equal ones first come first served; a whole number
   * from -1000 to 1000, default 0. It never orders one owner's jobs before another's.
   */
  priority?: number;
  /**
   * What to do when the job cannot start at once (its owner at `quota`, the host at its running limit, or its memory or
   * CPU not free): "queue" it (the default: start() resolves with it "queued") or "refuse" it (JobError
   * "resource_exhausted" naming what is full).
   */
  policy?: "queue" | "refuse";
  /**
   * Jobs this one waits for (at most 64, each an existing job: JobError "not_found" otherwise), each with how it must
   * end. The job queues until all of them ended as required; one that ends otherwise ends this job "failed" with a
   * reason naming it (e.g. "dependency ID exited 3 (required: succeeded)"); one that has already ended is evaluated at
   * once. A job a queued job waits for is kept (retention and delete() leave it) until it no longer does.
   */
  after?: JobDependency[];
  /** The job queues until this moment at least. */
  notBefore?: Date;
}

/**
 * The queue's capacities and bounds ({@link ManagerOptions.queue}). Jobs wait in the queue (kept in the state file)
 * while they cannot start: see {@link JobManager.start}.
 */
export interface QueueOptions {
  /** Most jobs running at once in all; default no limit. */
  maxRunning?: number;
  /** Memory that running jobs' memory limits may add up to; default the host's memory. Jobs without one reserve none. */
  memoryCapacityBytes?: number;
  /** CPUs that running jobs' CPU limits may add up to; default the online CPUs. Jobs without one reserve none. */
  cpuCapacity?: number;
  /** Most queued jobs per owner; default 10 000. */
  maxQueuedPerUser?: number;
  /** Most queued jobs in all; default 100 000. */
  maxQueued?: number;
  /**
   * A job held up by the host's capacity this long (milliseconds; default 5 minutes) holds back admissions that would
   * delay it further, so that a large job is not starved by a stream of small ones.
   */
  starvationMs?: number;
  /**
   * Fair-share weights by owner, whole numbers from 1 to 1000; an owner not named weighs 1. Across owners, the next
   * admission goes to the owner with the fewest running jobs relative to its weight: with alice 2 and bob 1, alice
   * runs two jobs for each of bob's while both have work queued.
   */
  weights?: Readonly<Record<string, number>>;
  /** Names of the settings behind these, for messages (e.g. the server's flags); default the option names. */
  names?: Partial<Record<"maxRunning" | "memoryCapacityBytes" | "cpuCapacity" | "maxQueuedPerUser" | "maxQueued" | "weights", string>>;
}

/** The manager's standbys, for logs and metrics (see {@link ManagerOptions.standby}). */
export interface StandbyCounts {
  /** Standbys kept for each output mode in use; 0 when the pool is off. */
  size: number;
  /**
   * Standbys the pool keeps now: `size` for each output mode in use: "separate" from the start, "merged" once
   * asked for.
   */
  target: number;
  /** Booted and waiting: the next starts of their output mode take these. */
  idle: number;
  /** Spawned (or being made) and still booting. */
  starting: number;
  /** Jobs started from a standby since create(). */
  warmStarts: number;
  /** Jobs started cold since create(): the pool was off, or had no ready standby of the job's output mode. */
  coldStarts: number;
}

/** Options of {@link JobManager.create}. */
export interface ManagerOptions {
  /** Output lives in `<dataDir>/jobs/<id>/stdout` and `stderr`, records in `<dataDir>/state.db`. */
  dataDir: string;
  /** The manager's sub-tree, relative to the server's own cgroup; default "jobexec". Tests use a unique one. */
  cgroupParent?: string;
  /** Default grace period of stop(), in milliseconds; default 5000. */
  defaultGraceMs?: number;
  log?: (event: LogEvent) => void;
  /** Which accounts jobs run as; default dynamic accounts from 61184-65519. */
  accounts?: AccountOptions;
  /**
   * Where job records are kept: default `<dataDir>/state.db` (SQLite). ":memory:" keeps them in memory only: nothing
   * survives close(), and create() removes every output directory it finds, as no record owns it.
   */
  stateFile?: string;
  /** Default and ceiling of a job's {@link JobSpec.maxOutputBytes}; default 1 GiB. */
  maxOutputBytes?: number;
  /** Ceiling of a job's {@link JobSpec.timeoutMs}, applied to jobs that ask for none; default no ceiling. */
  maxTimeoutMs?: number;
  /** Finished jobs (record and output) are removed this long after they ended; default 7 days. */
  retainMs?: number;
  /**
   * Finished jobs are removed while their output together takes more disk than this (allocated bytes: a sparse file
   * counts what it holds, not its size), the oldest of the owner with the most first; default 10 GiB. Must be at
   * least maxOutputBytes, so that no single job's output is removed the moment it ends.
   */
  outputBudgetBytes?: number;
  /**
   * Each owner's finished jobs are removed, oldest first, while their output takes more disk than this (allocated
   * bytes, as every output bound counts); default 2 GiB or maxOutputBytes if larger, at most outputBudgetBytes.
   * Must be at least maxOutputBytes.
   */
  outputBudgetPerUserBytes?: number;
  /** Each owner's finished jobs are removed, oldest first, while the owner has more than this many; default 10000. */
  maxRecordsPerUser?: number;
  /**
   * Each owner's finished jobs are removed, oldest first, while their stored records (mostly their arguments) take
   * more than this many bytes; default 64 MiB.
   */
  maxRecordBytesPerUser?: number;
  /** start() is refused ("resource_exhausted") while the data directory's filesystem has less free; default 256 MiB. */
  minFreeBytes?: number;
  /**
   * What close() does with running jobs: "stop" them (default grace; stop reason "server_shutdown"), or "keep"
   * them running, with their cgroups, for the next manager on the same dataDir and cgroupParent to adopt.
   */
  onClose?: "stop" | "keep";
  /**
   * Run jobs without cgroups even where cgroup v2 exists, as on a host without it (mode "none"): no limits,
   * no usage, stop by process group. For servers that may not manage cgroups, and for tests.
   */
  unconfined?: boolean;
  /**
   * How often every running job's CPU use and memory are sampled for its usage timeline, in milliseconds (at least
   * 100; 0 turns sampling off); default 5000. One timer for all jobs; each sample reads two files per job.
   */
  usageSampleMs?: number;
  /**
   * Standbys kept ready per output mode in use, isolated jobs or not (0 to 32; default 2; 0 turns them off): cgexec processes booted
   * ahead, with the next jobs' ids, output files and cgroups made, so that a start does not wait for a Node
   * start-up. "separate" output is kept warm from create(), "merged" from the first job asking for it. Standbys
   * are not jobs: never listed, never counted in quotas; close() and the next create() remove them.
   */
  standby?: number;
  /**
   * Isolation for jobs whose spec leaves a field unset (a default, not a floor: a spec may set a field either way).
   * Default none, and `privateTmpBytes` 64 MiB.
   */
  defaultIsolation?: IsolationSpec;
  /** Capacities and bounds of the queue; see {@link QueueOptions}. */
  queue?: QueueOptions;
}
