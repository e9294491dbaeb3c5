// The JobManager: starts jobs in per-job cgroups, reports them, streams their output, stops them.
import { access, mkdir, open, readdir, rm, stat, type FileHandle } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { cgexecPath } from "@jobexec/cgexec";
import { errnoCode, killCgroup, removeCgroup, signalProcs, waitUnpopulated } from "./cgroup/cgroup-fs.ts";
import { applyLimits } from "./cgroup/limits.ts";
import { CgroupSubtree } from "./cgroup/subtree.ts";
import { readUsage, wasOomKilled } from "./cgroup/usage.ts";
import { JobError } from "./job-error.ts";
import { isJobId, newJobId } from "./job-id.ts";
import { type Exit, JobRecord } from "./job-record.ts";
import { readOutput } from "./output/read-output.ts";
import { checkEnvProgram, spawnJob } from "./spawn-job.ts";
import type { CgroupInfo, Job, JobSpec, ListFilter, LogEvent, ManagerOptions, OutputChunk, OutputOptions, StopOptions, StreamName } from "./types.ts";
import { baseEnvironment, type HostCapacity, hostCapacity, validateSpec } from "./validate-spec.ts";

const exhaustionCodes = new Set(["EAGAIN", "ENOMEM", "EMFILE", "ENFILE", "ENOSPC", "EDQUOT"]);

function toJobError(what: string, err: unknown): JobError {
  if (err instanceof JobError) return err;
  const code = errnoCode(err);
  return new JobError(code !== undefined && exhaustionCodes.has(code) ? "resource_exhausted" : "internal", `${what}: ${String(err)}`, {
    cause: err,
  });
}

function checkCgroupParent(parent: string): string {
  const segments = parent.split("/").filter(Boolean);
  if (segments.length === 0 || parent.includes("\0") || segments.some((s) => s === "." || s === "..")) {
    throw new JobError("invalid_argument", `cgroupParent ${JSON.stringify(parent)} must be a relative path without "." or ".."`);
  }
  return segments.join("/");
}

function checkOffset(what: string, value: unknown): void {
  if (value !== undefined && !(typeof value === "number" && Number.isSafeInteger(value) && value >= 0)) {
    throw new JobError("invalid_argument", `${what} must be a whole number >= 0`);
  }
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
 * Environment: the job's variables never act on cgexec (a Node program). cgexec runs with the base
 * environment only, and `env -i` applies the job's variables at the last exec (see spawnJob): a job's
 * NODE_OPTIONS or LD_PRELOAD reach its program exactly, and never cgexec.
 *
 * Without a cgroup2 mount, jobs run unconfined in their own session (`job.cgroup` absent, usage
 * unavailable) and stop kills their process group. A manager owns its dataDir's `jobs` directory and its
 * cgroup sub-tree: create() kills and removes what an earlier run left there, close() removes them.
 */
export class JobManager {
  /** The cgroup set-up jobs run in, for start-up logs. */
  readonly cgroups: CgroupInfo;
  readonly #jobsDir: string;
  readonly #subtree: CgroupSubtree | undefined;
  readonly #host: HostCapacity;
  readonly #graceMs: number;
  readonly #logger: ((event: LogEvent) => void) | undefined;
  /** Every job, in creation order. */
  readonly #jobs = new Map<string, JobRecord>();
  readonly #starting = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;

  private constructor(jobsDir: string, subtree: CgroupSubtree | undefined, host: HostCapacity, options: ManagerOptions) {
    this.#jobsDir = jobsDir;
    this.#subtree = subtree;
    this.#host = host;
    this.#graceMs = options.defaultGraceMs ?? 5000;
    this.#logger = options.log;
    this.cgroups = subtree?.info ?? { mode: "none", controllers: [] };
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
    const jobsDir = join(options.dataDir, "jobs");
    let subtree: CgroupSubtree | undefined;
    try {
      await mkdir(jobsDir, { recursive: true });
      subtree = options.unconfined === true ? undefined : await CgroupSubtree.open(parent);
    } catch (err) {
      throw toJobError("cannot set up the job manager's cgroup sub-tree (it needs root; or set unconfined)", err);
    }
    if (subtree !== undefined) {
      try {
        await access(cgexecPath);
      } catch (err) {
        await subtree.close(() => undefined);
        throw new JobError("failed_precondition", `cgexec is not built: ${cgexecPath} is missing`, { cause: err });
      }
    }
    const manager = new JobManager(jobsDir, subtree, await hostCapacity(subtree?.info.controllers), options);
    try {
      await manager.#removeLeftovers();
    } catch (err) {
      await manager.close();
      throw toJobError("cannot remove leftovers of an earlier run", err);
    }
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

  /** Starts a job and resolves once its program runs (or once its failure after the spawn is recorded). */
  async start(spec: JobSpec, owner: string): Promise<Job> {
    this.#assertOpen();
    if (typeof owner !== "string") throw new JobError("invalid_argument", "owner must be a string");
    const starting = this.#start(spec, owner);
    this.#starting.add(starting);
    try {
      return await starting;
    } finally {
      this.#starting.delete(starting);
    }
  }

  async #start(spec: JobSpec, owner: string): Promise<Job> {
    const id = newJobId();
    const baseEnv = baseEnvironment(id);
    const valid = await validateSpec(spec, baseEnv, this.#host);
    checkEnvProgram(valid.executable, valid.env, baseEnv);
    // From here on, state exists: a failure before the spawn removes all of it.
    const dir = join(this.#jobsDir, id);
    const cgroupDir = this.#subtree === undefined ? undefined : join(this.#subtree.parentDir, id);
    const files: FileHandle[] = [];
    let record: JobRecord;
    try {
      // Output may hold secrets: readable by the server's user only.
      await mkdir(dir, { mode: 0o700 });
      const stdout = await open(join(dir, "stdout"), "a", 0o600);
      files.push(stdout);
      const stderr = await open(join(dir, "stderr"), "a", 0o600);
      files.push(stderr);
      if (cgroupDir !== undefined) {
        await mkdir(cgroupDir);
        await applyLimits(cgroupDir, valid.limits);
      }
      record = new JobRecord(id, owner, valid, dir, cgroupDir);
      const spawned = spawnJob({
        executable: valid.executable,
        args: valid.args,
        env: valid.env,
        baseEnv,
        cwd: valid.cwd,
        stdoutFd: stdout.fd,
        stderrFd: valid.outputMode === "merged" ? stdout.fd : stderr.fd,
        cgroupDir,
      });
      record.child = spawned.child;
      record.pid = spawned.child.pid ?? 0;
      record.startedAt = new Date();
      this.#jobs.set(id, record);
      if (spawned.child.pid === undefined) {
        void this.#onExit(record, spawned.failure, undefined);
      } else {
        spawned.child.once("exit", (code, signal) => {
          record.exitedDuringStop = record.stopping !== undefined;
          void this.#onExit(record, spawned.failure, { code, signal });
        });
      }
      const failure = await spawned.failure;
      if (failure !== "") await record.ended;
      else this.#log({ level: "info", message: `job started: pid ${String(record.pid)}, owner ${owner}`, jobId: id, cgroup: cgroupDir });
    } catch (err) {
      await Promise.all(files.map((f) => f.close()));
      if (cgroupDir !== undefined) await rmCgroupQuietly(cgroupDir);
      await rm(dir, { recursive: true, force: true });
      throw toJobError("cannot start the job", err);
    }
    // The child has its own copies of the output descriptors.
    await Promise.all(files.map((f) => f.close()));
    return record.snapshot();
  }

  /** Ends a job after its main process exited (or never ran): kill what is left, record the final state. */
  async #onExit(record: JobRecord, failure: Promise<string>, exit: Exit | undefined): Promise<void> {
    record.ending = true;
    const endedAt = new Date();
    const reason = await failure;
    const { cgroupDir } = record;
    try {
      if (cgroupDir !== undefined) {
        await killCgroup(cgroupDir);
        await waitUnpopulated(cgroupDir);
        if (reason === "") {
          // The last figures: the cgroup is empty but still there.
          record.usage = await readUsage(cgroupDir, this.cgroups.controllers);
          record.oomKilled = await wasOomKilled(cgroupDir);
        }
        await removeCgroup(cgroupDir);
      } else if (exit !== undefined) {
        killGroup(record.pid, "SIGKILL");
        await waitGroupGone(record.pid);
      }
    } catch (err) {
      this.#log({ level: "error", message: "cleaning up after the job failed", jobId: record.id, cgroup: cgroupDir, error: err });
    }
    if (reason !== "" || exit === undefined) {
      record.failureReason = reason || "the job could not be started";
      record.pid = 0;
      record.startedAt = undefined; // it never ran
      await rm(record.dir, { recursive: true, force: true });
      record.finish("failed", endedAt);
      this.#log({ level: "warn", message: `job failed to start: ${record.failureReason}`, jobId: record.id });
      return;
    }
    record.exit = exit;
    record.output = await outputSizes(record.dir);
    record.finish(record.exitedDuringStop ? "stopped" : "exited", endedAt);
    const how = exit.signal !== null ? `signal ${exit.signal}` : `exit code ${String(exit.code)}`;
    this.#log({ level: "info", message: `job ${record.state}: ${how}${record.oomKilled ? ", OOM kill" : ""}`, jobId: record.id });
  }

  /**
   * Stops a job: SIGTERM to every process of its cgroup, then after the grace period cgroup.kill; resolves
   * with the final status once the cgroup is empty. Stopping an ended job returns its status unchanged;
   * concurrent stops share one. Aborting `options.signal` rejects this call but not the stop.
   */
  async stop(id: string, options: StopOptions = {}): Promise<Job> {
    const record = this.#find(id);
    const graceMs = options.graceMs ?? this.#graceMs;
    if (!(Number.isFinite(graceMs) && graceMs >= 0)) throw new JobError("invalid_argument", "graceMs must be a finite number >= 0");
    if (options.by !== undefined && typeof options.by !== "string") throw new JobError("invalid_argument", "by must be a string");
    // Once the main process exited, the job is ending on its own: nothing to stop.
    if (record.isRunning && !record.ending) {
      record.stopping ??= this.#stop(record, graceMs, options.by);
    }
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

  async #stop(record: JobRecord, graceMs: number, by: string | undefined): Promise<void> {
    record.stopRequestedBy = by;
    await this.#signal(record, "SIGTERM");
    const graceOver = new AbortController();
    await Promise.race([record.ended, sleep(graceMs, undefined, { signal: graceOver.signal }).catch(() => undefined)]);
    graceOver.abort();
    if (!record.isRunning) return;
    if (record.cgroupDir !== undefined) await killCgroup(record.cgroupDir);
    await this.#signal(record, "SIGKILL");
    await record.ended;
  }

  /** Signals the job's processes: those in its cgroup, and the main process while it is not yet reaped. */
  async #signal(record: JobRecord, signal: NodeJS.Signals): Promise<void> {
    const child = record.child;
    const unreaped = child !== undefined && child.exitCode === null && child.signalCode === null;
    if (record.cgroupDir !== undefined) {
      try {
        await signalProcs(record.cgroupDir, signal);
      } catch (err) {
        this.#log({ level: "warn", message: `cannot signal the job's processes`, jobId: record.id, error: err });
      }
      // Covers cgexec before it joined the cgroup; Node never signals a reaped child.
      if (unreaped) child.kill(signal);
    } else if (unreaped) {
      killGroup(record.pid, signal);
    }
  }

  /** A job's status; usage is read live from its cgroup while it runs. */
  async get(id: string): Promise<Job> {
    const record = this.#find(id);
    if (record.isRunning) {
      const [usage, output] = await Promise.all([
        record.cgroupDir === undefined ? undefined : readUsage(record.cgroupDir, this.cgroups.controllers).catch(() => undefined),
        outputSizes(record.dir),
      ]);
      // The job may have ended meanwhile: its final figures win.
      if (record.isRunning && !record.ending) {
        if (usage !== undefined) record.usage = usage;
        record.output = output;
      }
    }
    return record.snapshot();
  }

  /**
   * Jobs matching `filter`, newest first. list() reads no file: usage and output sizes of running jobs are
   * those last read by get() (zero before), those of ended jobs are final.
   */
  async list(filter: ListFilter = {}): Promise<Job[]> {
    const jobs: Job[] = [];
    const records = [...this.#jobs.values()];
    for (let i = records.length - 1; i >= 0; i--) {
      const record = records[i] as JobRecord;
      if (filter.owner !== undefined && record.owner !== filter.owner) continue;
      if (filter.states !== undefined && !filter.states.includes(record.state)) continue;
      jobs.push(record.snapshot());
    }
    return jobs;
  }

  /**
   * The output of a job as chunks of at most 64 KiB: both streams (or one), from the start, from byte
   * offsets or from each stream's last N lines; with `follow`, live until the job ended and every byte
   * was delivered. Throws JobError at once for a bad id or options.
   */
  output(id: string, options: OutputOptions = {}): AsyncIterable<OutputChunk> {
    this.#assertOpen();
    const record = this.#find(id);
    const stream = options.stream ?? "both";
    if (stream !== "both" && stream !== "stdout" && stream !== "stderr") {
      throw new JobError("invalid_argument", `stream must be "stdout", "stderr" or "both"`);
    }
    const from = options.from;
    if (from !== undefined) {
      if ("tailLines" in from) checkOffset("tailLines", from.tailLines);
      else {
        checkOffset("from.stdout", from.stdout);
        checkOffset("from.stderr", from.stderr);
      }
    }
    const streams: StreamName[] = stream === "both" ? ["stdout", "stderr"] : [stream];
    return readOutput(record.dir, record.watch, streams, { follow: options.follow ?? false, from, signal: options.signal });
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
    const records = [...this.#jobs.values()];
    await Promise.all(
      records.map((r) =>
        this.stop(r.id).catch((err: unknown) => this.#log({ level: "error", message: "stopping at close failed", jobId: r.id, error: err })),
      ),
    );
    await Promise.all(records.map((r) => rm(r.dir, { recursive: true, force: true })));
    await this.#subtree?.close((message, error) => this.#log({ level: "warn", message, error }));
  }

  async #removeLeftovers(): Promise<void> {
    for (const name of await readdir(this.#jobsDir)) {
      await rm(join(this.#jobsDir, name), { recursive: true, force: true });
      this.#log({ level: "info", message: `removed output of an earlier run's job ${name}` });
    }
    for (const { dir, pids } of (await this.#subtree?.removeLeftovers()) ?? []) {
      this.#log({
        level: "warn",
        message: `removed leftover job cgroup ${dir}${pids.length > 0 ? `, killing ${String(pids.length)} process(es): ${pids.join(" ")}` : ""}`,
        cgroup: dir,
      });
    }
  }

  #find(id: string): JobRecord {
    if (typeof id !== "string" || !isJobId(id)) throw new JobError("invalid_argument", `malformed job id ${JSON.stringify(id)}`);
    const record = this.#jobs.get(id);
    if (record === undefined) throw new JobError("not_found", `no job ${id}`);
    return record;
  }

  #assertOpen(): void {
    if (this.#closing !== undefined) throw new JobError("failed_precondition", "the job manager is closed");
  }

  #log(event: LogEvent): void {
    try {
      this.#logger?.(event);
    } catch {
      // A failing logger must not break job handling.
    }
  }
}

/** SIGKILL/SIGTERM to a process group (jobs without cgroups run in their own session). */
function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if (errnoCode(err) !== "ESRCH") throw err;
  }
}

/**
 * Waits (up to a second) until no process of a group is left; signal 0 fails with ESRCH then. Only for
 * jobs without a cgroup, whose end cannot be watched; zombies waiting for init to reap them still count.
 */
async function waitGroupGone(pgid: number): Promise<void> {
  for (let waited = 0; waited < 1000; waited += 10) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return;
    }
    await sleep(10);
  }
}

async function rmCgroupQuietly(dir: string): Promise<void> {
  try {
    await removeCgroup(dir);
  } catch {
    // It was never populated: rmdir only fails if it was never made.
  }
}

async function outputSizes(dir: string): Promise<{ stdout: number; stderr: number }> {
  const size = (name: string): Promise<number> => stat(join(dir, name)).then((s) => s.size, () => 0);
  const [stdout, stderr] = await Promise.all([size("stdout"), size("stderr")]);
  return { stdout, stderr };
}
