// The JobManager: a façade composing validation (spec/), launching (launch/), supervision (supervise/),
// the job table (store/), output (output/) and the cgroup sub-tree (cgroup/).
import { access } from "node:fs/promises";
import { totalmem } from "node:os";
import { isAbsolute, join } from "node:path";
import { cgexecPath } from "@jobexec/cgexec";
import { Accounts } from "./accounts/accounts.ts";
import { lockCgroupParent } from "./cgroup/parent-lock.ts";
import { CgroupSubtree, checkCgroupParent, subtreeDir } from "./cgroup/subtree.ts";
import { JobError, toJobError } from "./job-error.ts";
import { checkStandbySize, Launcher } from "./launch/launch-job.ts";
import { checkEnvProgram } from "./launch/spawn-job.ts";
import { prepareJobsDir, removeOutput } from "./output/output-files.ts";
import { checkOutputOptions } from "./output/output-options.ts";
import { readOutput } from "./output/read-output.ts";
import { checkIsolationSpec, wantsIsolation } from "./spec/isolation.ts";
import { baseEnvironment, type HostCapacity, hostCapacity, validateSpec } from "./spec/validate-spec.ts";
import { lockDataDir } from "./store/data-dir-lock.ts";
import { JobTable } from "./store/job-table.ts";
import type { HeldLock } from "./store/lock-file.ts";
import { removeLeftovers } from "./supervise/leftovers.ts";
import { Supervisor } from "./supervise/supervisor.ts";
import type {
  CgroupInfo,
  IsolationSpec,
  Job,
  JobSpec,
  ListFilter,
  LogEvent,
  ManagerOptions,
  OutputChunk,
  OutputOptions,
  StandbyCounts,
  StartOptions,
  StopOptions,
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
 * and reads them back, then sends it the job (argv, environment, cwd, account); it drops to the account and execs,
 * so the job does not wait for a Node start-up. With none ready a job starts cold: a fresh cgexec. Either way it is
 * the same job.
 *
 * Environment: the job's variables never act on cgexec (a Node program). A standby was running before it got
 * them and execs the program with exactly them; a cold cgexec runs with the base environment only, and `env -i`
 * applies the job's variables at the last exec (see spawnJob): a job's NODE_OPTIONS or LD_PRELOAD reach its
 * program exactly, and never cgexec.
 *
 * Without a cgroup2 mount, jobs run unconfined in their own session (`job.cgroup` absent, usage
 * unavailable) and stop kills their process group. A manager owns its dataDir's `jobs` directory and its
 * cgroup sub-tree: create() kills and removes what an earlier run left there, close() removes them. Both are
 * locked first (one manager per data directory and per cgroup parent, across processes): create() refuses,
 * having changed nothing, while another manager holds either.
 */
export class JobManager {
  /** The cgroup set-up jobs run in, for start-up logs. */
  readonly cgroups: CgroupInfo;
  readonly #subtree: CgroupSubtree | undefined;
  readonly #host: HostCapacity;
  readonly #graceMs: number;
  readonly #logger: (event: LogEvent) => void;
  readonly #jobs = new JobTable();
  readonly #accounts: Accounts;
  readonly #launcher: Launcher;
  readonly #supervisor: Supervisor;
  readonly #starting = new Set<Promise<unknown>>();
  readonly #defaultIsolation: IsolationSpec;
  readonly #locks: HeldLock[];
  #closing: Promise<void> | undefined;

  private constructor(
    jobsDir: string,
    subtree: CgroupSubtree | undefined,
    host: HostCapacity,
    accounts: Accounts,
    locks: HeldLock[],
    standbys: number,
    options: ManagerOptions,
  ) {
    this.#subtree = subtree;
    this.#accounts = accounts;
    this.#locks = locks;
    this.#host = host;
    // Checked in create().
    this.#defaultIsolation = { ...options.defaultIsolation };
    this.#graceMs = options.defaultGraceMs ?? 5000;
    this.#logger = safeLogger(options.log);
    this.cgroups = subtree?.info ?? { mode: "none", controllers: [] };
    this.#launcher = new Launcher(jobsDir, subtree, standbys, accounts.runAs !== "server", (event) => this.#log(event));
    this.#supervisor = new Supervisor(this.cgroups.controllers, (event) => this.#log(event));
  }

  /**
   * Detects cgroup v2, builds the manager's sub-tree (moving this process into a `supervisor` leaf unless
   * it is in the root cgroup), and kills and removes leftovers of an earlier run, logging each.
   */
  static async create(options: ManagerOptions): Promise<JobManager> {
    if (typeof options.dataDir !== "string" || !isAbsolute(options.dataDir)) {
      throw new JobError("invalid_argument", "dataDir must be an absolute path");
    }
    const grace = options.defaultGraceMs;
    if (grace !== undefined && !(Number.isFinite(grace) && grace >= 0)) {
      throw new JobError("invalid_argument", "defaultGraceMs must be a finite number >= 0");
    }
    const parent = checkCgroupParent(options.cgroupParent ?? "jobexec");
    const standbys = checkStandbySize(options.standby);
    checkIsolationSpec(options.defaultIsolation, "defaultIsolation", totalmem());
    // Both locks before anything is read or changed: a second instance refuses and leaves the first one's alone.
    const locks = [await lockDataDir(options.dataDir)];
    const jobsDir = join(options.dataDir, "jobs");
    const log = safeLogger(options.log);
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
      accounts = await Accounts.open(options.dataDir, options.accounts ?? {}, log);
      try {
        await access(cgexecPath);
      } catch (err) {
        throw new JobError("failed_precondition", `cgexec is not built: ${cgexecPath} is missing`, { cause: err });
      }
      try {
        subtree = options.unconfined === true ? undefined : await CgroupSubtree.open(parent);
      } catch (err) {
        throw toJobError("cannot set up the job manager's cgroup sub-tree (it needs root; or set unconfined)", err);
      }
      host = await hostCapacity(subtree?.info.controllers);
    } catch (err) {
      for (const lock of locks.reverse()) lock.release();
      throw err;
    }
    const manager = new JobManager(jobsDir, subtree, host, accounts, locks, standbys, options);
    try {
      await removeLeftovers(jobsDir, subtree, (event) => manager.#log(event));
    } catch (err) {
      await manager.close();
      throw toJobError("cannot remove leftovers of an earlier run", err);
    }
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
   * "resource_exhausted".
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
    const reservation = this.#launcher.reserve(asked?.outputMode, wantsIsolation(asked?.isolation, this.#defaultIsolation));
    try {
      const { id } = reservation;
      const account = await this.#accounts.accountOf(owner);
      const baseEnv = baseEnvironment(id, account);
      const valid = await validateSpec(spec, baseEnv, this.#host, account, this.#defaultIsolation);
      checkEnvProgram(valid.executable, valid.env, baseEnv);
      const { record, spawned, warm, closeFiles } = await this.#launcher.launch(reservation, this.#jobs.nextSeq(), owner, valid, baseEnv);
      void record.ended.then(() => slot.release());
      try {
        this.#supervisor.track(record, spawned);
        this.#jobs.add(record);
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

  /**
   * Stops a job: SIGTERM to every process of its cgroup, then after the grace period cgroup.kill; resolves
   * with the final status once the cgroup is empty. Stopping an ended job returns its status unchanged;
   * concurrent stops share one. Aborting `options.signal` rejects this call but not the stop.
   */
  async stop(id: string, options: StopOptions = {}): Promise<Job> {
    const record = this.#jobs.find(id);
    const graceMs = options.graceMs ?? this.#graceMs;
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

  /** A job's status; usage is read live from its cgroup while it runs. */
  async get(id: string): Promise<Job> {
    const record = this.#jobs.find(id);
    await this.#supervisor.refresh(record);
    return record.snapshot();
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
   * Removes an ended job: its record and its output. Resolves with the job as it was. A running job is
   * JobError "failed_precondition" (stop it first).
   */
  async delete(id: string): Promise<Job> {
    this.#assertOpen();
    const record = this.#jobs.find(id);
    if (record.isRunning) throw new JobError("failed_precondition", `job ${id} is still running: stop it first`);
    this.#jobs.delete(id);
    await removeOutput(record.dir);
    this.#log({ level: "info", message: "job deleted", jobId: id });
    return record.snapshot();
  }

  /**
   * The output of a job as chunks of at most 64 KiB: both streams (or one), from the start, from byte
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
   * Stops running jobs (default grace), waits for them, removes their output and the cgroup sub-tree. When
   * this is the last open manager of the process and create() moved the process into a `supervisor` leaf,
   * the controllers it enabled are disabled again and the process moves back to its own cgroup. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await Promise.allSettled(this.#starting);
    await this.#launcher.close();
    const records = this.#jobs.all();
    await Promise.all(
      records.map((r) =>
        this.stop(r.id).catch((err: unknown) => this.#log({ level: "error", message: "stopping at close failed", jobId: r.id, error: err })),
      ),
    );
    await Promise.all(records.map((r) => removeOutput(r.dir)));
    try {
      await this.#subtree?.close((message, error) => this.#log({ level: "warn", message, error }));
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
