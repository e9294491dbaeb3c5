// The manager's internal record of one job: its state machine and what a snapshot reports.
import type { ChildProcess } from "node:child_process";
import { unmeasuredUsage } from "../cgroup/usage.ts";
import type { UsageRing } from "../cgroup/usage-ring.ts";
import { OutputWatch } from "../output/output-watch.ts";
import type { Job, JobDependency, JobSpec, JobState, StopReason, Usage } from "../types.ts";
import type { OutputSizes } from "../output/output-files.ts";
import type { ValidSpec } from "../spec/validate-spec.ts";

// The usage of every record not measured yet (queued, or just started): shared and frozen, as a record's usage is only
// ever replaced, never changed in place; thousands of queued jobs hold no copy of it.
const notMeasured: Usage = Object.freeze({ ...unmeasuredUsage(), unavailable: Object.freeze([...unmeasuredUsage().unavailable]) as Usage["unavailable"] });

// What a stored row costs beside its variable text (its numbers, short fields, SQLite's own bytes), roughly.
const rowOverheadBytes = 512;
// Arguments longer than this (as stored: JSON) are not held once the job ended, but read back when reported.
const heldArgsChars = 4096;

/**
 * The output directory of job `id` in `jobsDir` (a normalized path): made so that it shares its parts with the
 * directory and the id (path.join builds a new chain of pieces for each of thousands of records).
 */
export function jobDir(jobsDir: string, id: string): string {
  return `${jobsDir}/${id}`;
}

/** How the main process ended, as Node reports it. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The final states of a job. */
export type EndState = Exclude<JobState, "queued" | "running">;

/**
 * What a queued job's record holds until its admission: its owner's quota (null: none) and what it waits for besides
 * capacity (milliseconds since the epoch for notBefore).
 */
export interface QueuedTerms {
  maxRunning: number | null;
  maxRunningName: string;
  after?: JobDependency[];
  notBefore?: number;
}

/**
 * A queued job's request as stored: its terms and the spec as given (validated again at its admission). The spec,
 * environment included, lives in the store only: read back at the admission (see JobTable.request), it costs a queued
 * job no memory.
 */
export interface QueuedRequest extends QueuedTerms {
  spec: JobSpec;
}

/**
 * One job. States move (queued ->) running -> exited | stopped | failed, or queued -> stopped | failed, and never
 * back; `ended` resolves once the final state is recorded, which is after the job's cgroup was emptied and removed.
 */
export class JobRecord {
  readonly id: string;
  /** Creation order number, see {@link Job.seq}. */
  readonly seq: number;
  readonly owner: string;
  /** The spec as validated: at the request, then again at the admission of a queued job (see begin). */
  #spec: ValidSpec;
  /** The arguments as stored (JSON), held once the job ended when short (see #compact). */
  #argsJson: string | undefined;
  /** The length of the stored arguments, known once the job ended (or was restored). */
  #argsLength: number | undefined;
  /** Reads the stored arguments of job `seq` (set by the job table): for a finished record that does not hold them. */
  storedArgs: ((seq: number) => string | undefined) | undefined;
  /** The job's output directory. */
  readonly dir: string;
  /** The job's cgroup; made (and set) at the start of a queued job. */
  cgroupDir: string | undefined;
  /** Set at construction; a record restored from the store gets its stored time. */
  createdAt = new Date();
  #watch: OutputWatch | undefined;
  /** Made on first use: thousands of finished records loaded at start-up are never awaited. */
  #ended: PromiseWithResolvers<undefined> | undefined;
  #leftQueue: PromiseWithResolvers<undefined> | undefined;

  state: JobState = "running";
  /** Orders a queued job among its owner's. */
  priority = 0;
  /** Set while queued (see {@link QueuedTerms}), and from the admission until the start is recorded. */
  request: QueuedTerms | undefined;
  child: ChildProcess | undefined;
  pid = 0;
  startedAt: Date | undefined;
  endedAt: Date | undefined;
  exit: Exit | undefined;
  oomKilled = false;
  /** Who asked for the stop that is under way or happened (stop reason "requested"). */
  stopRequestedBy: string | undefined;
  /** Why the stop that is under way or happened was asked for. */
  stopReason: StopReason | undefined;
  /** The main process's start time (clock ticks since boot) when the job runs unconfined: a recycled pid has another. */
  startTicks: number | undefined;
  /** Set when the job's end was not seen by its parent (it was adopted, or ended while no manager ran). */
  exitStatusUnknownReason: string | undefined;
  /** The job ended while no manager ran: endedAt is when it was noticed. */
  endTimeApproximate = false;
  /** Set when the main process exited (or never ran): the job is ending, its figures are about to be final. */
  ending = false;
  /** Whether a stop had begun when the main process exited: the job then ended "stopped". */
  exitedDuringStop = false;
  failureReason: string | undefined;
  /** Live figures as last read, or the final ones once ended. */
  usage: Usage;
  /** The samples of a running job with a cgroup (see supervise's UsageSampler); undefined once ended. */
  ring: UsageRing | undefined;
  /** The final timeline (JSON) of an ended job that was sampled, until it is stored (see JobTable.timeline). */
  timeline: string | undefined;
  /** Bytes in each output file, as last measured (final once ended). */
  output = { stdout: 0, stderr: 0 };
  /** Bytes the output files take on disk (allocated blocks), as last measured (final once ended). */
  outputDisk = 0;
  /** Set once a stop began: the main process ending then makes the job "stopped". */
  stopping: Promise<void> | undefined;
  /** When the stop under way began, and when what is left gets SIGKILL (for {@link Job.stopping}). */
  stopTimes: { beganAt: Date; killAt: Date } | undefined;

  constructor(id: string, seq: number, owner: string, spec: ValidSpec, dir: string, cgroupDir: string | undefined) {
    this.id = id;
    this.seq = seq;
    this.owner = owner;
    this.#spec = spec;
    this.dir = dir;
    this.cgroupDir = cgroupDir;
    this.usage = notMeasured;
  }

  /**
   * The job's spec. Once the job ended its arguments and environment are no longer held (see {@link args}): a
   * finished record costs little memory however long its command line was.
   */
  get spec(): ValidSpec {
    return this.#spec;
  }

  /** The job's arguments: from the spec while it runs; once it ended from their stored form, held or read back. */
  get args(): string[] {
    if (this.#argsLength === undefined) return [...this.#spec.args];
    return JSON.parse(this.#argsJson ?? this.storedArgs?.(this.seq) ?? "[]") as string[];
  }

  /** About how many bytes the job's stored record takes: what bounds each owner's records (see Retention). */
  get storedBytes(): number {
    const args = this.#argsLength ?? JSON.stringify(this.#spec.args).length;
    return rowOverheadBytes + args + this.#spec.program.length + this.#spec.cwd.length + (this.failureReason?.length ?? 0);
  }

  /** Takes the sizes of the job's output as measured. */
  measured(sizes: OutputSizes): void {
    this.output = { stdout: sizes.stdout, stderr: sizes.stderr };
    this.outputDisk = sizes.disk;
  }

  /**
   * The job's change notifier and output limit, made on first use: the records of finished jobs loaded at start-up
   * (thousands of them) need one only when someone reads their output.
   */
  get watch(): OutputWatch {
    if (this.#watch === undefined) {
      this.#watch = new OutputWatch(this.dir);
      if (this.isEnded) this.#watch.end();
    }
    return this.#watch;
  }

  /** Resolves once the job reached its final state. */
  get ended(): Promise<void> {
    this.#ended ??= Promise.withResolvers<undefined>();
    if (this.isEnded) this.#ended.resolve(undefined);
    return this.#ended.promise;
  }

  /** Resolves once the job is no longer queued: it runs (its output exists), or it ended without running. */
  get leftQueue(): Promise<void> {
    this.#leftQueue ??= Promise.withResolvers<undefined>();
    if (this.state !== "queued") this.#leftQueue.resolve(undefined);
    return this.#leftQueue.promise;
  }

  get isRunning(): boolean {
    return this.state === "running";
  }

  /**
   * Drops the arguments and environment from memory: the arguments are kept as stored (one flat string rather than
   * an array of strings, tens of bytes each beside their text) when short, and read back from the store when
   * reported otherwise; the environment is not stored and nothing reports it. A job with 120 KB of arguments then
   * costs the manager no more memory than `true` once it ended.
   */
  #compact(argsJson: string): void {
    if (this.#argsLength !== undefined) return;
    this.#argsLength = argsJson.length;
    if (argsJson.length <= heldArgsChars || this.storedArgs === undefined) this.#argsJson = argsJson;
    this.#spec = { ...this.#spec, args: [], env: {} };
  }

  /** A restored record's arguments, as stored (not parsed), and where to read them back. */
  restoreArgs(argsJson: string, storedArgs: ((seq: number) => string | undefined) | undefined): void {
    this.storedArgs = storedArgs;
    this.#compact(argsJson);
  }

  /** Whether the job reached its final state. */
  get isEnded(): boolean {
    return this.state !== "running" && this.state !== "queued";
  }

  /** A queued job's start: it runs with `spec` (its request validated again). */
  begin(spec: ValidSpec): void {
    this.#spec = spec;
    this.request = undefined;
    this.state = "running";
    this.#leftQueue?.resolve(undefined);
  }

  /** Records the final state and wakes everyone waiting for the end. */
  finish(state: EndState, endedAt: Date): void {
    this.state = state;
    this.endedAt = endedAt;
    this.child = undefined;
    this.#compact(JSON.stringify(this.#spec.args));
    this.request = undefined;
    this.#watch?.end();
    this.#ended?.resolve(undefined);
    this.#leftQueue?.resolve(undefined);
  }

  /**
   * A copy of everything known, safe to hand out (the timeline apart: see JobManager.get). A finished job's arguments
   * are parsed (or read back from the store) on first access of `args` only: list() for counting reads none. Read
   * them before the job is removed. With `kept` (a snapshot that is kept, e.g. in the change log for watchers, and
   * must not be changed), long arguments are never held by the snapshot, not even once read: they are read from the
   * record whenever asked for; and the snapshot shares with the record what the record only ever replaces, never
   * changes (its spec's limits and isolation, its creation time, usage and output sizes): thousands of kept snapshots
   * cost little.
   */
  snapshot(kept = false): Job {
    const spec = this.#spec;
    const job: Job = {
      id: this.id,
      seq: this.seq,
      owner: this.owner,
      program: spec.program,
      args: [],
      cwd: spec.cwd,
      state: this.state,
      pid: this.pid,
      oomKilled: this.oomKilled,
      createdAt: kept ? this.createdAt : new Date(this.createdAt),
      limits: kept ? spec.limits : { ...spec.limits, io: spec.limits.io?.map((l) => ({ ...l })) },
      usage: kept ? this.usage : copyUsage(this.usage),
      output: kept ? this.output : { ...this.output },
      outputMode: spec.outputMode,
      maxOutputBytes: spec.maxOutputBytes,
      isolation: kept ? spec.isolation : { ...spec.isolation },
    };
    const long = this.#argsLength === undefined ? kept && spec.args.reduce((n, a) => n + a.length + 3, 2) > heldArgsChars : true;
    if (!long) job.args = kept ? spec.args : [...spec.args];
    else lazyArgs(job, () => this.args, !kept);
    if (job.limits.io === undefined && !kept) delete job.limits.io;
    if (this.exit?.code != null) job.exitCode = this.exit.code;
    if (this.exit?.signal != null) job.signal = this.exit.signal;
    if (this.startedAt) job.startedAt = new Date(this.startedAt);
    if (this.endedAt) job.endedAt = new Date(this.endedAt);
    if (this.state === "stopped") {
      job.stopReason = this.stopReason ?? "requested";
      if ((job.stopReason === "requested" || job.stopReason === "cancelled") && this.stopRequestedBy !== undefined) job.stoppedBy = this.stopRequestedBy;
    }
    if (this.state === "running" && this.stopTimes !== undefined) {
      job.stopping = { reason: this.stopReason ?? "requested", beganAt: new Date(this.stopTimes.beganAt), killAt: new Date(this.stopTimes.killAt) };
      if (this.stopReason === "requested" && this.stopRequestedBy !== undefined) job.stopping.requestedBy = this.stopRequestedBy;
    }
    if (this.exitStatusUnknownReason !== undefined) job.exitStatusUnknownReason = this.exitStatusUnknownReason;
    if (this.endTimeApproximate) job.endTimeApproximate = true;
    if (spec.timeoutMs !== undefined) job.timeoutMs = spec.timeoutMs;
    if (this.failureReason !== undefined) job.failureReason = this.failureReason;
    if (this.cgroupDir !== undefined) job.cgroup = this.cgroupDir;
    if (this.priority !== 0) job.priority = this.priority;
    // A job that never ran ran as nobody.
    if (this.state !== "failed" && this.state !== "queued" && this.stopReason !== "cancelled") job.account = { name: spec.account.name, uid: spec.account.uid, gid: spec.account.gid };
    return job;
  }
}

// Usage holds nested objects (memory events, pressure) that a snapshot must not share.
function copyUsage(usage: Usage): Usage {
  const copy: Usage = { ...usage, unavailable: [...usage.unavailable] };
  if (usage.memoryEvents !== undefined) copy.memoryEvents = { ...usage.memoryEvents };
  if (usage.pressure !== undefined) copy.pressure = structuredClone(usage.pressure);
  return copy;
}

/**
 * Makes `job.args` read by `read` on its first access (then kept when `keep`, else read again at every access;
 * assignable like a plain property).
 */
function lazyArgs(job: Job, read: () => string[], keep: boolean): void {
  let args: string[] | undefined;
  Object.defineProperty(job, "args", {
    enumerable: true,
    configurable: true,
    get: () => args ?? (keep ? (args = read()) : read()),
    set: (value: string[]) => {
      args = value;
    },
  });
}
