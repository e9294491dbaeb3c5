// The JobManager: a façade composing validation (spec/), launching (launch/), supervision (supervise/),
// the job table (store/), output (output/) and the cgroup sub-tree (cgroup/).
import { constants, statSync } from "node:fs";
import { access } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { cgexecPath, enterHelperPath } from "@jobexec/cgexec";
import { Accounts, type Slot } from "./accounts/accounts.ts";
import { lockCgroupParent } from "./cgroup/parent-lock.ts";
import { CgroupSubtree, checkCgroupParent, subtreeDir } from "./cgroup/subtree.ts";
import { UsageSampler } from "./cgroup/usage-sampler.ts";
import { addUsage, emptyTotals } from "./cgroup/usage-totals.ts";
import { JobError, toJobError } from "./job-error.ts";
import { isJobId, newJobId } from "./job-id.ts";
import { Launcher } from "./launch/launch-job.ts";
import { FreeSpaceCheck } from "./output/free-space.ts";
import { prepareJobsDir, removeOutput } from "./output/output-files.ts";
import { checkOutputOptions } from "./output/output-options.ts";
import { deliverOutput } from "./output/deliver-output.ts";
import { readOutput } from "./output/read-output.ts";
import { checkSettings, type Settings } from "./spec/manager-settings.ts";
import { baseEnvironment, type HostCapacity, hostCapacity, type ValidSpec, validateSpec } from "./spec/validate-spec.ts";
import { lockDataDir } from "./store/data-dir-lock.ts";
import { JobTable } from "./store/job-table.ts";
import type { HeldLock } from "./store/lock-file.ts";
import { SqliteStore } from "./store/sqlite-store.ts";
import { type QueueEntry, weightOf } from "./schedule/admission.ts";
import { CONDITIONS, type Dependency, type DependencyJob } from "./schedule/dependencies.ts";
import type { Held } from "./schedule/holds.ts";
import { atTime } from "./supervise/deadline.ts";
import { JobChanges } from "./events/job-changes.ts";
import { checkQueueOptions, demandOf, MAX_PRIORITY, type QueueSettings, Scheduler, type Unheld } from "./schedule/scheduler.ts";
import { jobDir, JobRecord, type QueuedRequest, type QueuedTerms } from "./supervise/job-record.ts";
import { recover } from "./supervise/recover.ts";
import { Retention } from "./supervise/retention.ts";
import { Supervisor } from "./supervise/supervisor.ts";
import type {
  CgroupInfo,
  GetOptions,
  Job,
  JobChange,
  JobSpec,
  ListFilter,
  LogEvent,
  ManagerOptions,
  OutputChunk,
  OutputOptions,
  OutputSink,
  OwnerQueueFigures,
  QueueFigures,
  StandbyCounts,
  StartOptions,
  StopOptions,
  WatchPosition,
  UsageTotals,
} from "./types.ts";

function checkListFilter(filter: ListFilter): void {
  for (const [what, value] of [["olderThan", filter.olderThan], ["limit", filter.limit]] as const) {
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) {
      throw new JobError("invalid_argument", `${what} must be a positive whole number`);
    }
  }
}

/** The request of a job as given, for its queue record: what validation reads, nothing else. */
function requestOf(spec: JobSpec): JobSpec {
  const { program, args, env, cwd, limits, outputMode, maxOutputBytes, timeoutMs, isolation } = spec;
  return { program, args, env, cwd, limits, outputMode, maxOutputBytes, timeoutMs, isolation };
}

/**
 * What a queued job's record holds of its validated spec: what its snapshot reports and its row stores. Not its
 * environment (the base environment alone is a few KiB: thousands of queued jobs would hold megabytes) nor its
 * account's home and groups; the spec is validated again from the stored request at the admission.
 */
function queuedSpec(valid: ValidSpec): ValidSpec {
  const { name, uid, gid, drop } = valid.account;
  return { ...valid, executable: valid.program, env: {}, account: { name, uid, gid, groups: [], home: "", drop } };
}

/** Most dependencies of one job. */
/** A queued job's spec validated as its account ahead of its admission; `ready` once done. */
interface Prepared {
  /** performance.now() when the resolution began. */
  at: number;
  ready?: ValidSpec;
  /** A newer resolution is under way. */
  renewing?: boolean;
}

/** How many of each owner's next queued jobs are resolved ahead (a slot freed each, before the next resolve)... */
const preparedDepth = 4;
/** ... and at most how many in all (their specs are in memory, which queued jobs otherwise keep in the store only). */
const preparedMost = 32;
/** How long a job's account and spec resolved ahead stand for its start (the program may go meanwhile). */
const preparedFreshMs = 1000;

const MAX_DEPENDENCIES = 64;

/** StartOptions.after checked (each id well-formed, each condition known; whether the jobs exist is the caller's). */
function checkDependencies(after: unknown): Dependency[] {
  if (after === undefined) return [];
  if (!Array.isArray(after) || after.length > MAX_DEPENDENCIES) throw new JobError("invalid_argument", `after must be a list of at most ${String(MAX_DEPENDENCIES)} dependencies`);
  return after.map((dep: Partial<Dependency> | null, i) => {
    if (typeof dep?.id !== "string" || !isJobId(dep.id)) throw new JobError("invalid_argument", `after[${String(i)}].id ${JSON.stringify(String(dep?.id).slice(0, 40))} is not a job id`);
    if (!(CONDITIONS as readonly unknown[]).includes(dep.condition)) {
      throw new JobError("invalid_argument", `after[${String(i)}].condition must be one of ${CONDITIONS.join(", ")}`);
    }
    return { id: dep.id, condition: dep.condition as Dependency["condition"] };
  });
}

/** StartOptions checked, with defaults: no quota, priority 0, policy "queue", no dependencies, no notBefore (0). */
function checkStartOptions(options: StartOptions): {
  maxRunning: number;
  maxRunningName: string;
  priority: number;
  policy: "queue" | "refuse";
  after: Dependency[];
  notBefore: number;
} {
  const { quota, priority = 0, policy = "queue", notBefore } = options;
  if (notBefore !== undefined && !(notBefore instanceof Date && Number.isFinite(notBefore.getTime()))) throw new JobError("invalid_argument", "notBefore must be a valid Date");
  if (quota !== undefined && !(Number.isSafeInteger(quota.maxRunning) && quota.maxRunning > 0)) {
    throw new JobError("invalid_argument", "quota.maxRunning must be a positive whole number");
  }
  if (!(Number.isSafeInteger(priority) && Math.abs(priority) <= MAX_PRIORITY)) {
    throw new JobError("invalid_argument", `priority must be a whole number from -${String(MAX_PRIORITY)} to ${String(MAX_PRIORITY)}`);
  }
  if (policy !== "queue" && policy !== "refuse") throw new JobError("invalid_argument", 'policy must be "queue" or "refuse"');
  return {
    maxRunning: quota?.maxRunning ?? Infinity,
    maxRunningName: quota?.name ?? "quota.maxRunning",
    priority,
    policy,
    after: checkDependencies(options.after),
    notBefore: notBefore?.getTime() ?? 0,
  };
}

/** The queue entry of a queued record. */
function entryOf(record: JobRecord, request: QueuedTerms): QueueEntry {
  return {
    id: record.id,
    owner: record.owner,
    seq: record.seq,
    priority: record.priority,
    // JSON keeps no Infinity: a stored "no limit" comes back null.
    maxRunning: request.maxRunning ?? Infinity,
    maxRunningName: request.maxRunningName,
    ...demandOf(record.spec.limits),
    queuedAt: record.createdAt.getTime(),
  };
}

/** Resolves once a queued job runs or ended, or `signal` aborted: a follower of a queued job waits for its output. */
async function untilLeftQueue(record: JobRecord, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return record.leftQueue;
  if (signal.aborted) return;
  const aborted = Promise.withResolvers<undefined>();
  const onAbort = (): void => aborted.resolve(undefined);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    await Promise.race([record.leftQueue, aborted.promise]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** `log`, made harmless: a failing logger must not break job handling. */
function safeLogger(log: ((event: LogEvent) => void) | undefined): (event: LogEvent) => void {
  return (event) => {
    try {
      log?.(event);
    } catch {
      // dropped
    }
  };
}

/**
 * Runs jobs: each job's main process is started through cgexec inside a cgroup of its own (named after
 * the job id, under the manager's sub-tree), its stdout and stderr go straight to files in
 * `<dataDir>/jobs/<id>/`, and the job ends when its main process exits, after everything else left in its
 * cgroup was killed (like systemd's KillMode=control-group) and the cgroup removed.
 *
 * Errors: invalid input (spec, ids, options) is rejected with JobError before any state is created, as is
 * a limit the host cannot apply ("failed_precondition", naming the missing controller). A failure after
 * the spawn (cgexec cannot join the cgroup, or the program vanished between validation and exec) is
 * recorded: start() resolves with the job in state "failed" and its `failureReason`, and get()/list()
 * keep reporting it. Either way no cgroup directory, output file or process is left behind.
 *
 * Accounts: every job runs as its owner's account (see ManagerOptions.accounts): by default a dynamic uid of the
 * owner's own, with its home `<dataDir>/homes/<name>` as HOME and default working directory. cgexec joins the
 * cgroup as root, then drops to the account with no_new_privs set, and passes on no descriptor but stdio.
 *
 * Standbys (ManagerOptions.standby, default 2 per output mode in use): cgexec processes booted ahead, each with
 * the next job's id, output files and cgroup made, waiting in that cgroup (no limits yet; what Node allocated to
 * start stays charged where the standby was spawned). A start takes a ready one, writes the limits into its cgroup
 * and reads them back, then writes the job's spec (argv, environment, cwd, account, isolation) on its standard input
 * and tells it to go: it executes cgexec-enter, which sets no_new_privs while still root, takes the isolation steps,
 * drops to the account and executes the program, so the job does not wait for a Node start-up. With none ready a
 * job starts cold: cgexec-enter spawned directly, its spec on its standard input. Either way it is the same job.
 *
 * Environment: the job's arguments and variables are never on a command line (every user can read those) and
 * never act on a Node process or on cgexec-enter (run with an empty environment): the program gets exactly them.
 *
 * Without a cgroup2 mount, jobs run unconfined in their own session (`job.cgroup` absent, usage
 * unavailable) and stop kills their process group.
 *
 * Queue: a job that cannot start at once (its owner at StartOptions.quota, the host at ManagerOptions.queue's running
 * limit, or its memory or CPU reservation not free) is queued (see schedule/): recorded with its request, but no
 * process, cgroup or output yet. Queued jobs start as capacity allows, in the order of schedule/admission.ts; one
 * that cannot start at its admission (its program gone meanwhile) ends "failed". The queue is kept in the store:
 * create() queues again what an earlier manager left queued, after recovery and adoption.
 *
 * Durability: every job's record is kept in `<dataDir>/state.db` (written when the job is created, started, asked
 * to stop and ended) with its output in `<dataDir>/jobs/<id>/`, until retention removes them (a while after the
 * end, or oldest first over a budget: each owner's oldest over a per-user bound, the largest owner's over the host-wide
 * output budget) or delete() does. create() loads every record back, adopts jobs an
 * earlier manager left running (or records that they ended meanwhile, exit status unknown), and kills and removes
 * cgroups and output directories no record owns. close() stops running jobs (or, with onClose "keep", leaves them
 * running for the next manager) and keeps every record and all output.
 *
 * A manager owns its dataDir and its cgroup sub-tree, both locked first (one manager per data directory and per cgroup
 * parent, across processes): create() refuses, having changed nothing, while another manager holds either.
 */
export class JobManager {
  /** The cgroup set-up jobs run in, for start-up logs. */
  readonly cgroups: CgroupInfo;
  readonly #subtree: CgroupSubtree | undefined;
  readonly #host: HostCapacity;
  readonly #settings: Settings;
  readonly #jobsDir: string;
  readonly #logger: (event: LogEvent) => void;
  readonly #jobs: JobTable;
  readonly #accounts: Accounts;
  readonly #launcher: Launcher;
  readonly #supervisor: Supervisor;
  readonly #retention: Retention<JobRecord>;
  readonly #scheduler: Scheduler;
  /** Ended jobs kept past retention for the held jobs that wait for them. */
  readonly #kept = new Map<string, JobRecord>();
  #cancelHoldTimer: (() => void) | undefined;
  readonly #changes = new JobChanges();
  readonly #sampler: UsageSampler;
  readonly #usageTotals = new Map<string, UsageTotals>();
  readonly #starting = new Set<Promise<unknown>>();
  /** The next queued jobs' accounts and specs, resolved ahead of their admission (see #prepareAhead), by job id. */
  readonly #prepared = new Map<string, Prepared>();
  readonly #freeSpace: FreeSpaceCheck;
  readonly #locks: HeldLock[];
  #closing: Promise<void> | undefined;

  private constructor(
    dataDir: string,
    store: SqliteStore,
    subtree: CgroupSubtree | undefined,
    host: HostCapacity,
    accounts: Accounts,
    locks: HeldLock[],
    settings: Settings,
    queue: QueueSettings,
    options: ManagerOptions,
  ) {
    this.#scheduler = new Scheduler(queue, (id) => this.#dependencyJob(id));
    this.#jobsDir = join(dataDir, "jobs");
    this.#freeSpace = new FreeSpaceCheck(dataDir, settings.minFreeBytes);
    this.#subtree = subtree;
    this.#accounts = accounts;
    this.#locks = locks;
    this.#host = host;
    this.#settings = settings;
    this.#logger = safeLogger(options.log);
    const log = (event: LogEvent): void => this.#log(event);
    this.cgroups = subtree?.info ?? { mode: "none", controllers: [] };
    this.#jobs = new JobTable(store, log);
    this.#launcher = new Launcher(this.#jobsDir, subtree, settings.standby, log);
    this.#retention = new Retention<JobRecord>(settings, async (record, why) => {
      // A job that a queued job waits for stays until it no longer does.
      if (this.#scheduler.holds.waiterFor(record.id) !== undefined) this.#kept.set(record.id, record);
      else await this.#remove(record, `removed finished job: ${why}`);
    });
    this.#sampler = new UsageSampler(settings.usageSampleMs, this.cgroups.controllers);
    this.#supervisor = new Supervisor(this.cgroups.controllers, log, settings.graceMs, this.#sampler, {
      changed: (record) => this.#jobs.save(record),
      ended: (record) => {
        if (record.state !== "failed") {
          const totals = this.#usageTotals.get(record.owner) ?? emptyTotals();
          addUsage(totals, record.usage);
          this.#usageTotals.set(record.owner, totals);
        }
        this.#retention.add([record]);
        void this.#retention.sweep();
        this.#ended(record);
      },
    });
  }

  /**
   * Opens the job store (refusing a corrupt or newer one with a sentence naming it), detects cgroup v2, builds the
   * manager's sub-tree (moving this process into a `supervisor` leaf unless it is in the root cgroup), then loads
   * every stored job back, adopting those still running, and kills and removes what no record owns, logging each.
   */
  static async create(options: ManagerOptions): Promise<JobManager> {
    if (typeof options.dataDir !== "string" || !isAbsolute(options.dataDir)) {
      throw new JobError("invalid_argument", "dataDir must be an absolute path");
    }
    const settings = checkSettings(options);
    const parent = checkCgroupParent(options.cgroupParent ?? "jobexec");
    // Both locks before anything is read or changed: a second instance refuses and leaves the first one's alone.
    const locks = [await lockDataDir(options.dataDir)];
    const jobsDir = join(options.dataDir, "jobs");
    const log = safeLogger(options.log);
    let store: SqliteStore | undefined;
    let accounts: Accounts;
    let subtree: CgroupSubtree | undefined;
    let host: HostCapacity;
    let queue: QueueSettings;
    try {
      const parentDir = options.unconfined === true ? undefined : await subtreeDir(parent);
      if (parentDir !== undefined) locks.push(await lockCgroupParent(parentDir));
      try {
        await prepareJobsDir(jobsDir);
      } catch (err) {
        throw toJobError(`cannot create the data directory ${options.dataDir}`, err);
      }
      // Then a state file that cannot be used stops everything before anything else is touched or logged.
      store = SqliteStore.open(options.stateFile ?? join(options.dataDir, "state.db"));
      accounts = await Accounts.open(options.dataDir, options.accounts ?? {}, log);
      try {
        await access(cgexecPath);
        await access(enterHelperPath, constants.X_OK);
      } catch (err) {
        throw new JobError("failed_precondition", `cgexec is not built: ${cgexecPath} or ${enterHelperPath} is missing (cgexec-enter needs a C compiler)`, { cause: err });
      }
      try {
        subtree = options.unconfined === true ? undefined : await CgroupSubtree.open(parent);
      } catch (err) {
        throw toJobError("cannot set up the job manager's cgroup sub-tree (it needs root; or set unconfined)", err);
      }
      host = await hostCapacity(subtree?.info.controllers);
      queue = checkQueueOptions(options.queue, host);
    } catch (err) {
      store?.close();
      for (const lock of locks.reverse()) lock.release();
      throw err;
    }
    const manager = new JobManager(options.dataDir, store, subtree, host, accounts, locks, settings, queue, options);
    try {
      await recover({ jobs: manager.#jobs, supervisor: manager.#supervisor, retention: manager.#retention, jobsDir, subtree, log: (e) => manager.#log(e) });
    } catch (err) {
      // Whatever was adopted keeps running, for a manager that can recover.
      manager.#closing = manager.#close("keep");
      await manager.#closing;
      throw toJobError("cannot recover the jobs of an earlier run", err);
    }
    // Adopted jobs count against their owners' quotas and the host's capacities like any running job; then what an
    // earlier run left queued queues again, in its order.
    const records = manager.#jobs.all();
    for (const record of records.filter((r) => r.isRunning)) manager.#holdSlot(record, undefined, manager.#scheduler.load.hold({ owner: record.owner, ...demandOf(record.spec.limits) }));
    // What accounts that run no job left (before a crash, or while no manager ran) goes before their next job.
    await accounts.removeIdleIpc();
    let queued = 0;
    for (const record of records) {
      if (record.state === "queued" && record.request !== undefined) {
        manager.#place(record, entryOf(record, record.request));
        queued++;
      }
    }
    if (queued > 0) manager.#log({ level: "info", message: `${String(queued)} queued job(s) wait again for their turn` });
    // Retention once the queue is back: a finished job that a queued job waits for is kept.
    await manager.#retention.sweep();
    // Standbys only once what an earlier run left is removed: theirs are leftovers like any.
    manager.#launcher.start();
    const { mode, parent: parentDir, controllers } = manager.cgroups;
    manager.#log({
      level: mode === "none" ? "warn" : "info",
      message:
        mode === "none"
          ? `${options.unconfined === true ? "cgroups disabled by option" : "no cgroup v2 mount"}: jobs run unconfined`
          : `cgroup v2 (${mode}): jobs under ${String(parentDir)}, controllers: ${controllers.join(" ") || "none"}`,
      cgroup: parentDir,
    });
    // Admission only once recovery and adoption are done: what runs already is counted.
    manager.#pump();
    return manager;
  }

  /**
   * Starts a job as `owner`'s account and resolves once its program runs (or once its failure after the spawn is
   * recorded); or, when it cannot start at once (its owner at `options.quota`, the host at its running limit, its
   * memory or CPU not free, or other jobs' turn first), queues it and resolves with it "queued" (with
   * `options.policy` "refuse": JobError "resource_exhausted" naming what is full instead). An owner with no account is
   * JobError "permission_denied"; a memory or CPU limit over the host's capacity "failed_precondition"; a full queue
   * "resource_exhausted", as is a data directory with less than `minFreeBytes` free.
   */
  async start(spec: JobSpec, owner: string, options: StartOptions = {}): Promise<Job> {
    this.#assertOpen();
    if (typeof owner !== "string") throw new JobError("invalid_argument", "owner must be a string");
    const starting = this.#start(spec, owner, options);
    this.#starting.add(starting);
    try {
      return await starting;
    } finally {
      this.#starting.delete(starting);
    }
  }

  async #start(spec: JobSpec, owner: string, options: StartOptions): Promise<Job> {
    const { policy, after, notBefore, ...asks } = checkStartOptions(options);
    // Unknown ids are not_found before anything else is done.
    for (const dep of after) this.#jobs.find(dep.id);
    const slot = this.#accounts.reserve(owner, undefined);
    // A ready standby's id (taken now, before any await, so concurrent starts never share one), or a fresh one; none
    // for a job that will wait (a standby taken and given back is churn, thousands of times for a big queue).
    const asked = spec as Partial<JobSpec> | null;
    const waits = after.length > 0 || notBefore > Date.now() || !this.#scheduler.hasRoom(owner, asks.maxRunning);
    const reservation = this.#launcher.reserve(asked?.outputMode, !waits);
    let release: (() => void) | undefined;
    try {
      const { id } = reservation;
      // Before validation: a job that could never start is told so even where its limits cannot be applied.
      this.#scheduler.checkCapacity(asked?.limits, this.#host);
      const account = await this.#accounts.accountOf(owner);
      const baseEnv = baseEnvironment(id, account);
      const valid = await validateSpec(spec, baseEnv, this.#host, account, this.#settings);
      await this.#freeSpace.check();
      const demand = demandOf(valid.limits);
      // Newest of all (seq not given yet); decided and counted with no await between.
      const entry: QueueEntry = { id, owner, seq: Number.MAX_SAFE_INTEGER, ...asks, ...demand, queuedAt: Date.now() };
      const reason = this.#scheduler.waitReason(after, notBefore, entry.queuedAt);
      if (reason !== undefined || !this.#scheduler.admitsNow(entry, entry.queuedAt)) {
        if (policy === "refuse") {
          throw reason === undefined ? this.#scheduler.refusal(entry) : new JobError("resource_exhausted", `the job cannot start now (${reason}) and its request asks not to queue`);
        }
        reservation.cancel();
        slot.release();
        return this.#enqueue(spec, owner, valid, entry, after, notBefore);
      }
      release = this.#scheduler.load.hold(entry);
      // Stored before the spawn: a job that cannot be recorded never runs, and a crash right after leaves a record.
      const seq = this.#jobs.insert(id, owner, valid);
      let launched;
      try {
        launched = await this.#launcher.launch(reservation, seq, owner, valid);
      } catch (err) {
        this.#jobs.discard(id, seq);
        throw err;
      }
      const { record, spawned, warm, closeFiles } = launched;
      this.#holdSlot(record, slot, release);
      try {
        this.#jobs.add(record);
        this.#supervisor.track(record, spawned);
        this.#changes.publish("created", record.snapshot(true));
        if ((await spawned.failure) !== "") await record.ended;
        else {
          const how = warm ? "from a standby" : "cold";
          this.#log({ level: "info", message: `job started ${how}: pid ${String(record.pid)}, owner ${owner}, uid ${String(account.uid)}`, jobId: id, cgroup: record.cgroupDir });
        }
      } finally {
        await closeFiles();
      }
      return record.snapshot();
    } catch (err) {
      reservation.cancel();
      slot.release();
      if (release !== undefined) {
        release();
        this.#pump();
      }
      throw err;
    }
  }

  /** Records a job that cannot start now as queued (with its request, for its start) and resolves with it. */
  #enqueue(spec: JobSpec, owner: string, valid: ValidSpec, asked: QueueEntry, after: Dependency[], notBefore: number): Job {
    this.#scheduler.checkRoom(owner);
    // A fresh id: a standby's belongs to that standby's output files and cgroup, made now.
    const id = newJobId();
    const terms: QueuedTerms = {
      maxRunning: asked.maxRunning,
      maxRunningName: asked.maxRunningName,
      ...(after.length > 0 ? { after } : {}),
      ...(notBefore > 0 ? { notBefore } : {}),
    };
    const request: QueuedRequest = { ...terms, spec: requestOf(spec) };
    const seq = this.#jobs.insert(id, owner, valid, { request, priority: asked.priority });
    const record = new JobRecord(id, seq, owner, queuedSpec(valid), jobDir(this.#jobsDir, id), undefined);
    record.state = "queued";
    record.request = terms;
    record.priority = asked.priority;
    record.createdAt = new Date(asked.queuedAt);
    this.#jobs.add(record);
    this.#changes.publish("created", record.snapshot(true));
    this.#place(record, { ...asked, id, seq });
    const job = this.#snapshot(record);
    if (job.state === "queued") this.#log({ level: "info", message: `job queued: owner ${owner}, position ${String(job.queue?.position)}, ${String(job.queue?.reason)}`, jobId: id });
    this.#pump();
    return job;
  }

  /** How a job a dependency names stands, for the scheduler. */
  #dependencyJob(id: string): DependencyJob | undefined {
    const record = this.#jobs.get(id);
    if (record === undefined) return undefined;
    return { id, state: record.state, exitCode: record.exit?.code ?? undefined, signal: record.exit?.signal ?? undefined, stopReason: record.stopReason };
  }

  /** Queues a job (see Scheduler.place), or ends it "failed" when a dependency failed. The caller pumps. */
  #place(record: JobRecord, entry: QueueEntry): void {
    const { after = [], notBefore = 0 } = record.request ?? {};
    const now = Date.now();
    const failed = this.#scheduler.place(entry, after, notBefore, now);
    if (failed !== undefined) return this.#failQueued(record, failed);
    this.#armHoldTimer(now);
  }

  /** Ends a queued job that will never start: "failed", with why. */
  #failQueued(record: JobRecord, reason: string): void {
    this.#prepared.delete(record.id);
    record.failureReason = reason;
    record.finish("failed", new Date());
    this.#jobs.save(record);
    this.#retention.add([record]);
    this.#log({ level: "info", message: `queued job failed: ${reason}`, jobId: record.id });
    this.#ended(record);
  }

  /** A job reached its final state: the held jobs waiting for it are evaluated again (a chain ends, nothing hangs). */
  #ended(record: JobRecord): void {
    this.#changes.publish("ended", record.snapshot(true));
    this.#unheld(this.#scheduler.dependentsEnded(record.id, Date.now()));
  }

  /** Acts on held jobs the scheduler let go: fails those whose dependency failed, admits what the others allow. */
  #unheld({ released, failed }: Unheld): void {
    for (const held of [...released, ...failed.map((f) => f.held)]) this.#keptNoLonger(held);
    for (const { held, reason } of failed) this.#failQueued(this.#jobs.find(held.entry.id), reason);
    if (released.length > 0) this.#pump();
  }

  /** Dependencies kept past retention for `held` alone (which no longer waits) go back to retention. */
  #keptNoLonger(held: Held): void {
    for (const dep of held.after) {
      const kept = this.#kept.get(dep.id);
      if (kept === undefined || this.#scheduler.holds.waiterFor(dep.id) !== undefined) continue;
      this.#kept.delete(dep.id);
      this.#retention.add([kept]);
      void this.#retention.sweep();
    }
  }

  /**
   * One timer for the earliest start time of the held jobs still ahead at `now`. `now` is the moment the caller
   * released or placed at: a later clock reading could count a start time that moment did not reach as passed, and
   * then no timer would be armed for it (a timer may fire a millisecond before its time by Date.now()).
   */
  #armHoldTimer(now: number): void {
    this.#cancelHoldTimer?.();
    this.#cancelHoldTimer = undefined;
    if (this.#closing !== undefined) return;
    const { next } = this.#scheduler.holds.due(now);
    if (next === Infinity) return;
    this.#cancelHoldTimer = atTime(next, () => {
      const at = Date.now();
      this.#unheld(this.#scheduler.releaseDue(at));
      this.#armHoldTimer(at);
    });
  }

  /**
   * Starts every queued job the admission policy admits now; each start goes on without being awaited. `freedAt`
   * (performance.now()) is when a running job's recorded end freed the room this pump fills, for the dispatch time.
   */
  #pump(freedAt?: number): void {
    if (this.#closing !== undefined) return;
    for (let next = this.#scheduler.admitNext(Date.now()); next !== undefined; next = this.#scheduler.admitNext(Date.now())) {
      const admitting = this.#admit(this.#jobs.find(next.entry.id), next.release, freedAt);
      this.#starting.add(admitting);
      void admitting.finally(() => this.#starting.delete(admitting));
    }
    this.#prepareAhead();
  }

  /**
   * Resolves ahead, for the next queued jobs of each owner (breadth first, {@link preparedMost} in all), their
   * account and their spec validated as it: a slot freed by a job's end then goes to its successor's launch with no
   * file system trip in between (each one waits for the event loop, which the other slots' spawns hold). What a
   * result stands for goes stale ({@link preparedFreshMs}): results are renewed at half that age at each pump; one
   * stale at its admission (after a long wait with nothing happening) is resolved there again.
   */
  #prepareAhead(): void {
    if (this.#closing !== undefined) return;
    const now = performance.now();
    const next = this.#scheduler.queue.leading(preparedDepth, preparedMost);
    // Jobs no longer among the next (others went ahead of them) keep nothing.
    const ids = new Set(next.map((entry) => entry.id));
    for (const id of this.#prepared.keys()) if (!ids.has(id)) this.#prepared.delete(id);
    for (const { id } of next) {
      const record = this.#jobs.get(id);
      if (record === undefined) continue;
      const known = this.#prepared.get(id);
      if (known !== undefined && (known.ready === undefined || known.renewing === true || now - known.at <= preparedFreshMs / 2)) continue;
      const prepared: Prepared = { at: now };
      // A result being renewed stands until the new one is in.
      if (known === undefined) this.#prepared.set(id, prepared);
      else known.renewing = true;
      const current = (): boolean => {
        const held = this.#prepared.get(id);
        return held !== undefined && (held === prepared || held === known);
      };
      const preparing = this.#resolveQueued(record).then(
        (ready) => {
          prepared.ready = ready;
          if (current()) this.#prepared.set(id, prepared);
        },
        // Left to the admission, which fails the job with the reason.
        () => {
          if (current()) this.#prepared.delete(id);
        },
      );
      this.#starting.add(preparing);
      void preparing.finally(() => this.#starting.delete(preparing));
    }
  }

  /** A queued job's account and its stored request validated again as that account, for its start. */
  async #resolveQueued(record: JobRecord): Promise<ValidSpec> {
    const request = this.#jobs.request(record);
    const account = await this.#accounts.accountOf(record.owner);
    return await validateSpec(request.spec, baseEnvironment(record.id, account), this.#host, account, this.#settings);
  }

  /** What was resolved ahead for queued job `id` and is still fresh, taken (undefined: none). */
  #takePrepared(id: string): ValidSpec | undefined {
    const prepared = this.#prepared.get(id);
    this.#prepared.delete(id);
    if (prepared?.ready === undefined || performance.now() - prepared.at > preparedFreshMs) return undefined;
    // Its program looked for again, synchronously: one removed meanwhile fails the job as at any admission.
    if (statSync(prepared.ready.executable, { throwIfNoEntry: false })?.isFile() !== true) return undefined;
    return prepared.ready;
  }

  /**
   * Starts an admitted queued job (`release` gives back its share of the load): its request is validated again, its
   * record stored as started before the spawn (so that no crash can start it twice), then it is launched cold. One
   * that cannot start ends "failed", with the reason. Its log line says how long it waited and, when a running job's
   * end made room for it (`freedAt`), its dispatch: from that end to the request of its launch.
   */
  async #admit(record: JobRecord, release: () => void, freedAt: number | undefined): Promise<void> {
    let slot: Slot | undefined;
    let closeFiles: (() => Promise<void>) | undefined;
    try {
      slot = this.#accounts.reserve(record.owner, undefined);
      const ahead = this.#takePrepared(record.id);
      // What the account's last job left is removed before its next starts, also one resolved ahead.
      const cleaning = this.#accounts.cleaning(record.owner);
      if (ahead !== undefined && cleaning !== undefined) await cleaning;
      const valid = ahead ?? (await this.#resolveQueued(record));
      record.cgroupDir = this.#launcher.cgroupDirOf(record.id);
      this.#jobs.markAdmitted(record);
      const dispatch = freedAt === undefined ? "" : `, dispatched ${(performance.now() - freedAt).toFixed(3)} ms after a running job's end`;
      const launched = await this.#launcher.launchQueued(record, valid);
      closeFiles = launched.closeFiles;
      record.begin(valid);
      this.#holdSlot(record, slot, release);
      this.#supervisor.track(record, launched.spawned);
      this.#changes.publish("started", record.snapshot(true));
      if ((await launched.spawned.failure) !== "") return;
      const waited = Date.now() - record.createdAt.getTime();
      this.#log({ level: "info", message: `job started from the queue after ${String(waited)} ms${dispatch}: pid ${String(record.pid)}, owner ${record.owner}`, jobId: record.id, cgroup: record.cgroupDir });
    } catch (err) {
      slot?.release();
      release();
      record.cgroupDir = undefined;
      record.failureReason = `cannot start the queued job: ${err instanceof Error ? err.message : String(err)}`;
      record.finish("failed", new Date());
      this.#jobs.save(record);
      this.#retention.add([record]);
      this.#log({ level: "warn", message: record.failureReason, jobId: record.id, error: err });
      this.#ended(record);
      this.#pump();
    } finally {
      await closeFiles?.();
    }
  }

  /**
   * Holds one of the owner's running-job slots (`slot`, or a new one for an adopted job) and the job's share of the
   * load until the job ended; then admits what its end makes room for.
   */
  #holdSlot(record: JobRecord, slot: Slot | undefined, release: () => void): void {
    let held = slot;
    try {
      held ??= this.#accounts.reserve(record.owner, undefined);
    } catch (error) {
      // An adopted job of an identity the user map no longer names: it runs on, uncounted against a quota.
      this.#log({ level: "warn", message: "an adopted job's owner has no account any more; its job is not counted against a quota", jobId: record.id, error });
    }
    void record.ended.then(() => {
      held?.release();
      release();
      this.#pump(performance.now());
    });
  }

  /** A job's snapshot, with its place in the queue while queued. */
  #snapshot(record: JobRecord): Job {
    const job = record.snapshot();
    if (record.state !== "queued") return job;
    job.queue = this.#scheduler.status(record.id, Date.now()) ?? { position: 1, reason: "admitted: starting" };
    const { after, notBefore } = record.request ?? {};
    if (after !== undefined) job.after = after.map((dep) => ({ ...dep }));
    if (notBefore !== undefined) job.notBefore = new Date(notBefore);
    return job;
  }

  /**
   * Stops a job: SIGTERM to every process of its cgroup, then after the grace period cgroup.kill; resolves
   * with the final status once the cgroup is empty. Stopping an ended job returns its status unchanged;
   * concurrent stops share one. Aborting `options.signal` rejects this call but not the stop. A queued job ends at
   * once without starting: "stopped", stop reason "cancelled" (one being started is stopped once it runs).
   */
  async stop(id: string, options: StopOptions = {}): Promise<Job> {
    const record = this.#jobs.find(id);
    const graceMs = options.graceMs ?? this.#settings.graceMs;
    if (!(Number.isFinite(graceMs) && graceMs >= 0)) throw new JobError("invalid_argument", "graceMs must be a finite number >= 0");
    if (options.by !== undefined && typeof options.by !== "string") throw new JobError("invalid_argument", "by must be a string");
    if (record.state === "queued") {
      const cancelled = this.#scheduler.cancel(id);
      if (cancelled !== undefined) {
        if (cancelled.held !== undefined) this.#keptNoLonger(cancelled.held);
        this.#prepared.delete(id);
        record.stopReason = "cancelled";
        record.stopRequestedBy = options.by;
        record.finish("stopped", new Date());
        this.#jobs.save(record);
        this.#retention.add([record]);
        this.#log({ level: "info", message: `queued job cancelled${options.by === undefined ? "" : ` by ${options.by}`}`, jobId: id });
        this.#ended(record);
        // A cancelled job may have held back others (its owner's turn, a starvation hold).
        this.#pump();
        return record.snapshot();
      }
      await record.leftQueue;
    }
    this.#supervisor.stop(record, graceMs, options.by);
    const { signal } = options;
    if (signal === undefined) await record.ended;
    else {
      signal.throwIfAborted();
      const aborted = Promise.withResolvers<never>();
      const onAbort = (): void => aborted.reject(new JobError("failed_precondition", "stop was aborted", { cause: signal.reason }));
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        await Promise.race([record.ended, aborted.promise]);
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    }
    return record.snapshot();
  }

  /**
   * A job's status; usage is read live from its cgroup while it runs. With `options.timeline`, its usage timeline
   * too: the samples so far (merged to at most 120 points) while it runs, the stored one once it ended.
   */
  async get(id: string, options: GetOptions = {}): Promise<Job> {
    const record = this.#jobs.find(id);
    await this.#supervisor.refresh(record);
    const job = this.#snapshot(record);
    if (options.timeline === true) {
      const timeline = record.ring?.timeline() ?? (record.isRunning ? undefined : this.#jobs.timeline(record));
      if (timeline !== undefined) job.timeline = timeline;
    }
    return job;
  }

  /**
   * Usage totals per owner of the jobs that ended (exited or stopped) since create(), for metrics: they only grow
   * while this manager lives.
   */
  get usageTotals(): ReadonlyMap<string, Readonly<UsageTotals>> {
    return this.#usageTotals;
  }

  /**
   * Jobs matching `filter`, newest first; `limit` and `olderThan` page through them (a page continues after
   * the last job's seq, so jobs started meanwhile never shift it). list() reads no file: usage and output
   * sizes of running jobs are those last read by get() (zero before), those of ended jobs are final.
   */
  async list(filter: ListFilter = {}): Promise<Job[]> {
    checkListFilter(filter);
    return this.#jobs.list(filter).map((record) => this.#snapshot(record));
  }

  /**
   * Removes an ended job: its record (from the store too) and its output. Resolves with the job as it was. A
   * running or queued job is JobError "failed_precondition" (stop it first).
   */
  async delete(id: string): Promise<Job> {
    this.#assertOpen();
    const record = this.#jobs.find(id);
    if (record.state === "queued") throw new JobError("failed_precondition", `job ${id} is queued: stop it first`);
    const waiter = this.#scheduler.holds.waiterFor(id);
    if (waiter !== undefined) throw new JobError("failed_precondition", `job ${id} is a dependency of queued job ${waiter}: it is kept until no queued job waits for it`);
    if (record.isRunning) throw new JobError("failed_precondition", `job ${id} is still running: stop it first`);
    // Taken first, arguments included (spread: read now): they may be read back from the row about to go.
    const job = { ...record.snapshot() };
    await this.#remove(record, "job deleted");
    return job;
  }

  /** Forgets a finished job (table, store, retention) and removes its output. */
  async #remove(record: JobRecord, message: string): Promise<void> {
    // The deleted change carries the job as it was. A kept snapshot reads long arguments back from the row whenever
    // asked, and the row is about to go: spread, it reads them now and holds them.
    const gone = { ...record.snapshot(true) };
    this.#jobs.delete(record);
    this.#changes.publish("deleted", gone);
    this.#retention.forget(record);
    try {
      await removeOutput(record.dir);
      this.#log({ level: "info", message, jobId: record.id });
    } catch (error) {
      this.#log({ level: "error", message: `${message}, but its output could not be removed`, jobId: record.id, error });
    }
  }

  /**
   * The output of a job as chunks of at most 1 MiB (`maxChunkBytes`): both streams (or one), from the start, from byte
   * offsets or from each stream's last N lines; with `follow`, live until the job ended and every byte
   * was delivered. Throws JobError at once for a bad id or options.
   */
  output(id: string, options: OutputOptions = {}): AsyncIterable<OutputChunk> {
    this.#assertOpen();
    const record = this.#jobs.find(id);
    const streams = checkOutputOptions(options);
    const read = () => readOutput(record.dir, record.watch, streams, { follow: options.follow ?? false, from: options.from, signal: options.signal });
    if (record.state !== "queued" || options.follow !== true) return read();
    return (async function* () {
      await untilLeftQueue(record, options.signal);
      yield* read();
    })();
  }

  /**
   * The output of a job, as {@link output} yields it, written to `sink` instead; resolves once every chunk was
   * handed to it (with `follow`: after the job ended) or `options.signal` aborted. Followers that have caught up
   * are served together: one read per change, the same chunk handed to each (see output/output-fanout.ts). Throws
   * JobError at once for a bad id or options.
   */
  deliverOutput(id: string, options: OutputOptions, sink: OutputSink): Promise<void> {
    this.#assertOpen();
    const record = this.#jobs.find(id);
    const streams = checkOutputOptions(options);
    const deliver = () => deliverOutput(record.dir, record.watch, streams, { follow: options.follow ?? false, from: options.from, signal: options.signal }, sink);
    if (record.state !== "queued" || options.follow !== true) return deliver();
    return untilLeftQueue(record, options.signal).then(deliver);
  }

  /**
   * Stops running jobs (default grace; stop reason "server_shutdown"), waits for them, closes the store and removes
   * the cgroup sub-tree; every record and all output stay for the next manager. With onClose "keep", running jobs
   * are left running instead, with their cgroups and the sub-tree, for the next manager to adopt. When this is the
   * last open manager of the process and create() moved the process into a `supervisor` leaf, the controllers it
   * enabled are disabled again and the process moves back to its own cgroup (not with "keep"). Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close(this.#settings.onClose);
    return this.#closing;
  }

  async #close(onClose: "stop" | "keep"): Promise<void> {
    this.#cancelHoldTimer?.();
    await Promise.allSettled(this.#starting);
    this.#prepared.clear();
    // Standbys go whatever happens to the jobs: they are not jobs, and no next manager adopts them.
    await this.#launcher.close();
    this.#retention.close();
    this.#sampler.close();
    try {
      if (onClose === "keep") {
        const left = this.#supervisor.detach();
        this.#log({ level: "info", message: `left ${String(left)} running job(s) running for the next server to adopt` });
      } else {
        const running = this.#jobs.all().filter((r) => r.isRunning);
        for (const record of running) this.#supervisor.stop(record, this.#settings.graceMs, undefined, "server_shutdown");
        await Promise.all(running.map((r) => r.ended));
      }
      // What the accounts' last jobs left is being removed: finish that before the next manager may start.
      await this.#accounts.settled();
      const lost = this.#jobs.close();
      if (lost > 0) this.#log({ level: "error", message: `${String(lost)} job record write(s) could not be stored before closing` });
      if (onClose === "stop") await this.#subtree?.close((message, error) => this.#log({ level: "warn", message, error }));
    } finally {
      for (const lock of this.#locks.splice(0).reverse()) lock.release();
    }
  }

  /**
   * Hands every change of every job to `listener`, synchronously and in order, from now until `stop()`; first, when
   * `from` (the epoch and last sequence a watcher saw) is given, the changes since it that are still kept (the last
   * 10 000), or none and `position.resync` when they are not: the watcher should then list the jobs again. The
   * listener must not throw and should only queue the change: it runs inside the manager's bookkeeping.
   */
  watch(from: { epoch: string; sequence: number } | undefined, listener: (change: JobChange) => void): { position: WatchPosition; missed: JobChange[]; stop: () => void } {
    this.#assertOpen();
    return this.#changes.subscribe(from, listener);
  }

  /** The queue's figures now: queued and held jobs, running ones, what they reserve, and the capacities. */
  get queueFigures(): QueueFigures {
    const { queue, load, settings } = this.#scheduler;
    const { caps } = settings;
    return {
      queued: queue.size,
      held: this.#scheduler.holds.size,
      running: load.total,
      reservedMemoryBytes: load.memoryBytes,
      reservedCpus: load.cpus,
      capacity: { maxRunning: caps.maxRunning.value, memoryBytes: caps.memoryBytes.value, cpus: caps.cpus.value },
    };
  }

  /**
   * Each owner's part of the queue now, for owners with running, queued or held jobs, by owner; only `owner`'s when
   * given (none when it has no such job).
   */
  queueOwners(owner?: string): OwnerQueueFigures[] {
    const { queue, holds, load, settings } = this.#scheduler;
    const owners = owner !== undefined ? [owner] : [...new Set([...load.owners().keys(), ...queue.owners().keys(), ...holds.owners()])].sort();
    const heads = new Map(queue.heads().map((head) => [head.owner, head]));
    const now = Date.now();
    const figures: OwnerQueueFigures[] = [];
    for (const name of owners) {
      const { running, memoryBytes, cpus } = load.loadOf(name);
      const [queued, held] = [queue.sizeOf(name), holds.sizeOf(name)];
      if (running + queued + held === 0) continue;
      const head = heads.get(name);
      const next = head === undefined ? "" : (this.#scheduler.status(head.id, now)?.reason ?? "");
      figures.push({ owner: name, running, queued, held, reservedMemoryBytes: memoryBytes, reservedCpus: cpus, weight: weightOf(name, settings.caps), next });
    }
    return figures;
  }

  /** Watchers listening now ({@link watch}). */
  get watchers(): number {
    return this.#changes.listeners;
  }

  /** The standby pool's figures: its size per output mode, standbys idle and booting, warm and cold starts so far. */
  get standbys(): StandbyCounts {
    return this.#launcher.standbys;
  }

  #assertOpen(): void {
    if (this.#closing !== undefined) throw new JobError("failed_precondition", "the job manager is closed");
  }

  #log(event: LogEvent): void {
    this.#logger(event);
  }
}
