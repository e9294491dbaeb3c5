// Making a job's state (output files, cgroup with its limits) and starting its main process in it: from a standby
// when one is ready, else cold.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { EntrySpec } from "@jobexec/cgexec";
import { removeCgroup } from "../cgroup/cgroup-fs.ts";
import { applyLimits } from "../cgroup/limits.ts";
import type { CgroupSubtree } from "../cgroup/subtree.ts";
import { JobError, toJobError } from "../job-error.ts";
import { newJobId } from "../job-id.ts";
import { createOutputFiles, removeOutput } from "../output/output-files.ts";
import { JobRecord } from "../supervise/job-record.ts";
import type { ValidSpec } from "../spec/validate-spec.ts";
import type { LogEvent, OutputMode, StandbyCounts } from "../types.ts";
import { cgexecIsolation } from "../spec/isolation.ts";
import { type Spawned, spawnJob } from "./spawn-job.ts";
import type { Standby } from "./standby.ts";
import { maxStandbys, StandbyPool } from "./standby-pool.ts";

/** A job whose main process was just spawned (or handed its job, from a standby). */
export interface Launched {
  record: JobRecord;
  spawned: Spawned;
  /** Whether it came from a standby. */
  warm: boolean;
  /** Closes the server's copies of the output descriptors (the child has its own). */
  closeFiles(): Promise<void>;
}

/** The id the next job gets, held from the start of start() on: a ready standby's, or a fresh one. */
export class Reservation {
  readonly id: string;
  #standby: Standby | undefined;
  readonly #pool: StandbyPool;

  constructor(pool: StandbyPool, standby: Standby | undefined) {
    this.#pool = pool;
    this.#standby = standby;
    this.id = standby?.id ?? newJobId();
  }

  /** The standby, now the launch's (cancel() no longer gives it back); undefined for a cold start. */
  use(): Standby | undefined {
    const standby = this.#standby;
    this.#standby = undefined;
    return standby;
  }

  /** Gives an unused standby back; call when start() fails before launch(). */
  cancel(): void {
    const standby = this.use();
    if (standby !== undefined) this.#pool.giveBack(standby);
  }
}

/** Checks ManagerOptions.standby. */
export function checkStandbySize(size: unknown): number {
  if (size === undefined) return 2;
  if (!(typeof size === "number" && Number.isInteger(size) && size >= 0 && size <= maxStandbys)) {
    throw new JobError("invalid_argument", `standby must be a whole number from 0 to ${String(maxStandbys)}, not ${String(size)}`);
  }
  return size;
}

/**
 * Starts jobs: from a standby of the job's output mode when one is ready (its cgroup gets the limits, then it gets
 * the request), else cold (a fresh cgexec per job). Owns the standby pool.
 */
export class Launcher {
  readonly #jobsDir: string;
  readonly #subtree: CgroupSubtree | undefined;
  readonly #pool: StandbyPool;

  /** `standbys` per output mode. */
  constructor(jobsDir: string, subtree: CgroupSubtree | undefined, standbys: number, log: (event: LogEvent) => void) {
    this.#jobsDir = jobsDir;
    this.#subtree = subtree;
    this.#pool = new StandbyPool(standbys, { jobsDir, parentDir: subtree?.parentDir }, log);
  }

  /** Starts filling the standby pool; call once what an earlier run left is removed. */
  start(): void {
    this.#pool.start("separate");
  }

  /** The standby pool's figures. */
  get standbys(): StandbyCounts {
    return this.#pool.counts();
  }

  /**
   * Holds the next job's id: a ready standby's for `outputMode` (as the spec gives it, not yet validated), or a
   * fresh id (always without `warm`: a job that is likely to wait). Synchronous, so that concurrent starts never get
   * the same standby. A standby serves any job of its output mode, isolated or not: what makes the job is
   * cgexec-enter, which it executes at take.
   */
  reserve(outputMode: unknown, warm = true): Reservation {
    if (!warm) return new Reservation(this.#pool, undefined);
    // Validation accepts only these two, "separate" when absent; a bad value fails there and gives the standby back.
    const mode: OutputMode = outputMode === "merged" ? "merged" : "separate";
    return new Reservation(this.#pool, this.#pool.take(mode));
  }

  /**
   * Creates the job's cgroup limits (and, cold, its output files and cgroup), then starts its main process. A failure
   * before the start removes everything it made and throws a JobError.
   */
  async launch(reservation: Reservation, seq: number, owner: string, valid: ValidSpec): Promise<Launched> {
    const standby = reservation.use();
    const warm = standby === undefined ? undefined : await this.#warm(standby, seq, owner, valid);
    const launched = warm ?? (await this.#cold(reservation.id, seq, owner, valid));
    this.#pool.countStart(launched.warm);
    return launched;
  }

  /**
   * Starts a queued job, its record given: cold, since standbys are made with ids of their own. Like launch(), a
   * failure before the start removes everything it made and throws a JobError.
   */
  async launchQueued(record: JobRecord, valid: ValidSpec): Promise<Launched> {
    const launched = await this.#cold(record.id, record.seq, record.owner, valid, record);
    this.#pool.countStart(false);
    return launched;
  }

  /** The cgroup a cold start makes for job `id`; undefined when jobs run unconfined. */
  cgroupDirOf(id: string): string | undefined {
    return this.#subtree === undefined ? undefined : join(this.#subtree.parentDir, id);
  }

  /** Kills the standbys and removes what was made for them. */
  close(): Promise<void> {
    return this.#pool.close();
  }

  /** Starts the job from `standby`; undefined when it died before it booted (the caller then starts cold). */
  async #warm(standby: Standby, seq: number, owner: string, valid: ValidSpec): Promise<Launched | undefined> {
    // One still booting is waited for: the rest of its start-up is less than a whole cold start.
    if (!(await standby.whenBooted())) {
      await this.#pool.diedBooting(standby);
      return undefined;
    }
    const { cgroupDir } = standby;
    try {
      // Limits first, read back; the standby waiting in the cgroup brought none of its start-up memory with it.
      if (cgroupDir !== undefined) await applyLimits(cgroupDir, valid.limits);
    } catch (err) {
      await standby.discard().catch(() => undefined);
      this.#pool.refill();
      throw toJobError("cannot start the job", err);
    }
    const spawned = standby.take(entrySpec(valid));
    this.#pool.refillAfter(spawned.failure);
    const record = new JobRecord(standby.id, seq, owner, valid, standby.dir, cgroupDir);
    return { record, spawned, warm: true, closeFiles: () => Promise.resolve() };
  }

  async #cold(id: string, seq: number, owner: string, valid: ValidSpec, queued?: JobRecord): Promise<Launched> {
    const dir = join(this.#jobsDir, id);
    const cgroupDir = this.cgroupDirOf(id);
    let files;
    try {
      files = await createOutputFiles(dir, valid.outputMode);
      if (cgroupDir !== undefined) {
        await mkdir(cgroupDir);
        await applyLimits(cgroupDir, valid.limits);
      }
      const spawned = spawnJob({ spec: { ...entrySpec(valid), cgroupDir }, stdoutFd: files.stdoutFd, stderrFd: files.stderrFd });
      return { record: queued ?? new JobRecord(id, seq, owner, valid, dir, cgroupDir), spawned, warm: false, closeFiles: files.close };
    } catch (err) {
      await files?.close();
      if (cgroupDir !== undefined) await removeCgroup(cgroupDir).catch(() => undefined); // never populated
      await removeOutput(dir);
      throw toJobError("cannot start the job", err);
    }
  }
}

/** What cgexec-enter needs of a valid spec (the cgroup aside): the account when the job drops to one, cwd, argv, env, isolation. */
function entrySpec(valid: ValidSpec): Omit<EntrySpec, "cgroupDir"> {
  const { account } = valid;
  return {
    account: account.drop ? { uid: account.uid, gid: account.gid, groups: account.groups } : undefined,
    cwd: valid.cwd,
    argv: [valid.executable, ...valid.args],
    env: valid.env,
    isolation: cgexecIsolation(valid.isolation, account.home),
  };
}
