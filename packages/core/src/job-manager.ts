// The JobManager: a façade composing validation (spec/), launching (launch/), supervision (supervise/),
// the job table (store/), output (output/) and the cgroup sub-tree (cgroup/).
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { cgexecPath, enterHelperPath } from "@jobexec/cgexec";
import { Accounts, type Slot } from "./accounts/accounts.ts";
import { lockCgroupParent } from "./cgroup/parent-lock.ts";
import { CgroupSubtree, checkCgroupParent, subtreeDir } from "./cgroup/subtree.ts";
import { UsageSampler } from "./cgroup/usage-sampler.ts";
import { addUsage, emptyTotals } from "./cgroup/usage-totals.ts";
import { JobError, toJobError } from "./job-error.ts";
import { Launcher } from "./launch/launch-job.ts";
import { checkFreeSpace } from "./output/free-space.ts";
import { prepareJobsDir, removeOutput } from "./output/output-files.ts";
import { checkOutputOptions } from "./output/output-options.ts";
import { deliverOutput } from "./output/deliver-output.ts";
import { readOutput } from "./output/read-output.ts";
import { checkSettings, type Settings } from "./spec/manager-settings.ts";
import { baseEnvironment, type HostCapacity, hostCapacity, validateSpec } from "./spec/validate-spec.ts";
import { lockDataDir } from "./store/data-dir-lock.ts";
import { JobTable } from "./store/job-table.ts";
import type { HeldLock } from "./store/lock-file.ts";
import { SqliteStore } from "./store/sqlite-store.ts";
import type { JobRecord } from "./supervise/job-record.ts";
import { recover } from "./supervise/recover.ts";
import { Retention } from "./supervise/retention.ts";
import { Supervisor } from "./supervise/supervisor.ts";
import type {
  CgroupInfo,
  GetOptions,
  Job,
  JobSpec,
  ListFilter,
  LogEvent,
  ManagerOptions,
  OutputChunk,
  OutputOptions,
  OutputSink,
  StandbyCounts,
  StartOptions,
  StopOptions,
  UsageTotals,
} from "./types.ts";

function checkListFilter(filter: ListFilter): void {
  for (const [what, value] of [["olderThan", filter.olderThan], ["limit", filter.limit]] as const) {
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) {
      throw new JobError("invalid_argument", `${what} must be a positive whole number`);
    }
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
  readonly #dataDir: string;
  readonly #logger: (event: LogEvent) => void;
  readonly #jobs: JobTable;
  readonly #accounts: Accounts;
  readonly #launcher: Launcher;
  readonly #supervisor: Supervisor;
  readonly #retention: Retention<JobRecord>;
  readonly #sampler: UsageSampler;
  readonly #usageTotals = new Map<string, UsageTotals>();
  readonly #starting = new Set<Promise<unknown>>();
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
    options: ManagerOptions,
  ) {
    this.#dataDir = dataDir;
    this.#subtree = subtree;
    this.#accounts = accounts;
    this.#locks = locks;
    this.#host = host;
    this.#settings = settings;
    this.#logger = safeLogger(options.log);
    const log = (event: LogEvent): void => this.#log(event);
    this.cgroups = subtree?.info ?? { mode: "none", controllers: [] };
    this.#jobs = new JobTable(store, log);
    this.#launcher = new Launcher(join(dataDir, "jobs"), subtree, settings.standby, log);
    this.#retention = new Retention<JobRecord>(settings, (record, why) => this.#remove(record, `removed finished job: ${why}`));
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
    } catch (err) {
      store?.close();
      for (const lock of locks.reverse()) lock.release();
      throw err;
    }
    const manager = new JobManager(options.dataDir, store, subtree, host, accounts, locks, settings, options);
    try {
      await recover({ jobs: manager.#jobs, supervisor: manager.#supervisor, retention: manager.#retention, jobsDir, subtree, log: (e) => manager.#log(e) });
    } catch (err) {
      // Whatever was adopted keeps running, for a manager that can recover.
      manager.#closing = manager.#close("keep");
      await manager.#closing;
      throw toJobError("cannot recover the jobs of an earlier run", err);
    }
    // Adopted jobs count against their owners' quotas like any running job.
    for (const record of manager.#jobs.all().filter((r) => r.isRunning)) manager.#holdSlot(record, undefined);
    // What accounts that run no job left (before a crash, or while no manager ran) goes before their next job.
    await accounts.removeIdleIpc();
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
    return manager;
  }

  /**
   * Starts a job as `owner`'s account and resolves once its program runs (or once its failure after the spawn is
   * recorded). An owner with no account is JobError "permission_denied"; one at `options.quota` is
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
    const slot = this.#accounts.reserve(owner, options.quota);
    // A ready standby's id (taken now, before any await, so concurrent starts never share one), or a fresh one.
    const asked = spec as Partial<JobSpec> | null;
    const reservation = this.#launcher.reserve(asked?.outputMode);
    try {
      const { id } = reservation;
      const account = await this.#accounts.accountOf(owner);
      const baseEnv = baseEnvironment(id, account);
      const valid = await validateSpec(spec, baseEnv, this.#host, account, this.#settings);
      await checkFreeSpace(this.#dataDir, this.#settings.minFreeBytes);
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
      this.#holdSlot(record, slot);
      try {
        this.#jobs.add(record);
        this.#supervisor.track(record, spawned);
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
      throw err;
    }
  }

  /** Holds one of the owner's running-job slots (`slot`, or a new one for an adopted job) until the job ended. */
  #holdSlot(record: JobRecord, slot: Slot | undefined): void {
    let held = slot;
    try {
      held ??= this.#accounts.reserve(record.owner, undefined);
    } catch (error) {
      // An adopted job of an identity the user map no longer names: it runs on, uncounted.
      this.#log({ level: "warn", message: "an adopted job's owner has no account any more; its job is not counted against a quota", jobId: record.id, error });
      return;
    }
    void record.ended.then(() => held.release());
  }

  /**
   * Stops a job: SIGTERM to every process of its cgroup, then after the grace period cgroup.kill; resolves
   * with the final status once the cgroup is empty. Stopping an ended job returns its status unchanged;
   * concurrent stops share one. Aborting `options.signal` rejects this call but not the stop.
   */
  async stop(id: string, options: StopOptions = {}): Promise<Job> {
    const record = this.#jobs.find(id);
    const graceMs = options.graceMs ?? this.#settings.graceMs;
    if (!(Number.isFinite(graceMs) && graceMs >= 0)) throw new JobError("invalid_argument", "graceMs must be a finite number >= 0");
    if (options.by !== undefined && typeof options.by !== "string") throw new JobError("invalid_argument", "by must be a string");
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
    const job = record.snapshot();
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
    return this.#jobs.list(filter).map((record) => record.snapshot());
  }

  /**
   * Removes an ended job: its record (from the store too) and its output. Resolves with the job as it was. A
   * running job is JobError "failed_precondition" (stop it first).
   */
  async delete(id: string): Promise<Job> {
    this.#assertOpen();
    const record = this.#jobs.find(id);
    if (record.isRunning) throw new JobError("failed_precondition", `job ${id} is still running: stop it first`);
    // Taken first, arguments included (spread: read now): they may be read back from the row about to go.
    const job = { ...record.snapshot() };
    await this.#remove(record, "job deleted");
    return job;
  }

  /** Forgets a finished job (table, store, retention) and removes its output. */
  async #remove(record: JobRecord, message: string): Promise<void> {
    this.#jobs.delete(record);
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
    return readOutput(record.dir, record.watch, streams, { follow: options.follow ?? false, from: options.from, signal: options.signal });
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
    return deliverOutput(record.dir, record.watch, streams, { follow: options.follow ?? false, from: options.from, signal: options.signal }, sink);
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
    await Promise.allSettled(this.#starting);
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
