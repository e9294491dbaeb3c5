// Following each job from its spawn to its final state: the end of its main process, stops, live figures.
import { setTimeout as sleep } from "node:timers/promises";
import { killCgroup, removeCgroup, signalProcs, waitUnpopulated } from "../cgroup/cgroup-fs.ts";
import { readUsage, wasOomKilled } from "../cgroup/usage.ts";
import type { Spawned } from "../launch/spawn-job.ts";
import { outputSizes, removeOutput } from "../output/output-files.ts";
import type { LogEvent } from "../types.ts";
import type { Exit, JobRecord } from "./job-record.ts";
import { killGroup, waitGroupGone } from "./process-group.ts";

/**
 * Owns the life of every job after its spawn: when the main process exits, whatever is left in the job's
 * cgroup is killed (like systemd's KillMode=control-group), the final usage is read and the cgroup removed,
 * and only then is the final state recorded. A stop signals the whole cgroup, waits the grace period, then
 * kills it.
 */
export class Supervisor {
  readonly #controllers: readonly string[];
  readonly #log: (event: LogEvent) => void;

  constructor(controllers: readonly string[], log: (event: LogEvent) => void) {
    this.#controllers = controllers;
    this.#log = log;
  }

  /** Follows a spawned job to its end; `record.ended` resolves once its final state is recorded. */
  track(record: JobRecord, spawned: Spawned): void {
    const { child } = spawned;
    record.child = child;
    record.pid = child.pid ?? 0;
    record.startedAt = new Date();
    if (child.pid === undefined) {
      void this.#end(record, spawned.failure, undefined);
      return;
    }
    child.once("exit", (code, signal) => {
      record.exitedDuringStop = record.stopping !== undefined;
      void this.#end(record, spawned.failure, { code, signal });
    });
  }

  /** Ends a job after its main process exited (or never ran): kill what is left, record the final state. */
  async #end(record: JobRecord, failure: Promise<string>, exit: Exit | undefined): Promise<void> {
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
          record.usage = await readUsage(cgroupDir, this.#controllers);
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
      await removeOutput(record.dir);
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
   * Stops a running job (SIGTERM to all its processes, the grace period, then kill) unless its main process
   * already exited; concurrent stops share one. Resolves once the stop is over (not necessarily the end).
   */
  stop(record: JobRecord, graceMs: number, by: string | undefined): void {
    // Once the main process exited, the job is ending on its own: nothing to stop.
    if (record.isRunning && !record.ending) record.stopping ??= this.#stop(record, graceMs, by);
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

  /** Reads a running job's live usage and output sizes into its record; an ended job keeps its final ones. */
  async refresh(record: JobRecord): Promise<void> {
    if (!record.isRunning) return;
    const [usage, output] = await Promise.all([
      record.cgroupDir === undefined ? undefined : readUsage(record.cgroupDir, this.#controllers).catch(() => undefined),
      outputSizes(record.dir),
    ]);
    // The job may have ended meanwhile: its final figures win.
    if (record.isRunning && !record.ending) {
      if (usage !== undefined) record.usage = usage;
      record.output = output;
    }
  }
}
