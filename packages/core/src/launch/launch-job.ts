// Making a job's state (output files, cgroup with its limits) and spawning its main process into it.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { removeCgroup } from "../cgroup/cgroup-fs.ts";
import { applyLimits } from "../cgroup/limits.ts";
import type { CgroupSubtree } from "../cgroup/subtree.ts";
import { toJobError } from "../job-error.ts";
import { createOutputFiles, removeOutput } from "../output/output-files.ts";
import { JobRecord } from "../supervise/job-record.ts";
import type { ValidSpec } from "../spec/validate-spec.ts";
import { type Spawned, spawnJob } from "./spawn-job.ts";

/** A job whose main process was just spawned. */
export interface Launched {
  record: JobRecord;
  spawned: Spawned;
  /** Closes the server's copies of the output descriptors (the child has its own). */
  closeFiles(): Promise<void>;
}

/** Starts jobs cold: every job's main process is a fresh cgexec. */
export class Launcher {
  readonly #jobsDir: string;
  readonly #subtree: CgroupSubtree | undefined;

  constructor(jobsDir: string, subtree: CgroupSubtree | undefined) {
    this.#jobsDir = jobsDir;
    this.#subtree = subtree;
  }

  /**
   * Creates the job's output files and its cgroup with the limits applied, then spawns cgexec into it. A
   * failure before the spawn removes everything it made and throws a JobError.
   */
  async launch(id: string, seq: number, owner: string, valid: ValidSpec, baseEnv: Record<string, string>): Promise<Launched> {
    const dir = join(this.#jobsDir, id);
    const cgroupDir = this.#subtree === undefined ? undefined : join(this.#subtree.parentDir, id);
    let files;
    try {
      files = await createOutputFiles(dir, valid.outputMode);
      if (cgroupDir !== undefined) {
        await mkdir(cgroupDir);
        await applyLimits(cgroupDir, valid.limits);
      }
      const spawned = spawnJob({
        executable: valid.executable,
        args: valid.args,
        env: valid.env,
        baseEnv,
        cwd: valid.cwd,
        stdoutFd: files.stdoutFd,
        stderrFd: files.stderrFd,
        cgroupDir,
        ...(valid.account.drop ? { account: valid.account } : {}),
      });
      return { record: new JobRecord(id, seq, owner, valid, dir, cgroupDir), spawned, closeFiles: files.close };
    } catch (err) {
      await files?.close();
      if (cgroupDir !== undefined) await removeCgroup(cgroupDir).catch(() => undefined); // never populated
      await removeOutput(dir);
      throw toJobError("cannot start the job", err);
    }
  }
}
