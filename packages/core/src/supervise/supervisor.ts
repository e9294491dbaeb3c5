// Following each job from its spawn (or its adoption) to its final state: its end, stops, timeout, output limit.
import { access } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { isPopulated, killCgroup, removeCgroup, waitUnpopulated } from "../cgroup/cgroup-fs.ts";
import { finalUsage, readUsage } from "../cgroup/usage.ts";
import type { UsageSampler } from "../cgroup/usage-sampler.ts";
import type { Spawned } from "../launch/spawn-job.ts";
import { outputSizes, removeOutput } from "../output/output-files.ts";
import type { LogEvent, StopReason } from "../types.ts";
import { atTime } from "./deadline.ts";
import type { EndState, Exit, JobRecord } from "./job-record.ts";
import { killGroup, waitGroupGone } from "./process-group.ts";
import { processStartTicks } from "./process-start.ts";
import { signalCgroup } from "./signal-cgroup.ts";

/** Why the exit status of a job adopted by (or ended before) a new manager is unknown. */
const restartedReason = "the server restarted while the job ran";

// An adopted job without a cgroup is not our child: nothing tells us it ended, so its process is checked this often.
const unconfinedCheckMs = 1000;

/** What the supervisor tells the rest of the manager. */
export interface SupervisorHooks {
  /** A record changed in a way worth storing: started, asked to stop, adopted, ended. */
  changed(record: JobRecord): void;
  /** A job reached its final state (after changed()). */
  ended(record: JobRecord): void;
}

/**
 * Owns the life of every job after its spawn: when the main process exits, whatever is left in the job's
 * cgroup is killed (like systemd's KillMode=control-group), the final usage is read and the cgroup removed,
 * and only then is the final state recorded. A stop signals the whole cgroup, waits the grace period, then
 * kills it; a timeout is such a stop, an output limit exceeded a kill at once. Jobs a previous manager left
 * running are adopted (see {@link adopt}).
 */
export class Supervisor {
  readonly #controllers: readonly string[];
  readonly #log: (event: LogEvent) => void;
  readonly #graceMs: number;
  readonly #hooks: SupervisorHooks;
  readonly #sampler: UsageSampler;
  /** Running jobs and what to undo when they end or the supervisor detaches (timeout, end watch). */
  readonly #running = new Map<JobRecord, (() => void)[]>();
  #detached = false;

  constructor(controllers: readonly string[], log: (event: LogEvent) => void, graceMs: number, sampler: UsageSampler, hooks: SupervisorHooks) {
    this.#controllers = controllers;
    this.#sampler = sampler;
    this.#log = log;
    this.#graceMs = graceMs;
    this.#hooks = hooks;
  }

  /**
   * Follows a spawned job to its end; `record.ended` resolves once its final state is recorded. The child is the job's
   * monitor, which ends as the program ends; the record's pid becomes the program's once the monitor reported it
   * (before `spawned.failure` resolves).
   */
  track(record: JobRecord, spawned: Spawned): void {
    const { child } = spawned;
    record.child = child;
    record.pid = child.pid ?? 0;
    record.startedAt = new Date();
    if (child.pid === undefined) {
      void this.#end(record, spawned.failure, undefined);
      return;
    }
    if (record.cgroupDir !== undefined) record.ring = this.#sampler.add(record, record.cgroupDir, record.startedAt.getTime());
    void spawned.mainPid.then((pid) => {
      if (pid === undefined || !record.isRunning) return;
      record.pid = pid;
      // Unconfined, the pid alone names the job for a later manager: its start time tells a recycled pid apart.
      if (record.cgroupDir === undefined) record.startTicks = processStartTicks(pid);
      this.#hooks.changed(record);
    });
    child.once("exit", (code, signal) => {
      if (this.#detached) return;
      record.exitedDuringStop = record.stopping !== undefined;
      void this.#end(record, spawned.failure, { code, signal });
    });
    this.#guard(record);
    this.#hooks.changed(record);
  }

  /**
   * Takes over a job whose record says it runs, left by an earlier manager. When its cgroup still has processes
   * (unconfined: its main process still runs, same pid and start time) it stays running: its end is seen through
   * cgroup.events (unconfined: by checking the process every second), stop() works through the cgroup (the process
   * group), its timeout and output limit apply again, and a stop that was under way is resumed. Otherwise it ended
   * while no manager ran, and is recorded so with an approximate end time. Either way its exit status is unknown
   * (this process is not its parent): recorded as such, never guessed. Resolves once it is decided.
   */
  async adopt(record: JobRecord): Promise<"adopted" | "ended"> {
    const { cgroupDir } = record;
    const alive = cgroupDir !== undefined ? await isPopulated(cgroupDir) : record.startTicks !== undefined && processStartTicks(record.pid) === record.startTicks;
    if (record.startedAt === undefined) {
      // Cut short between its spawn and the record of it: its StartJob never answered, nobody knows it.
      if (cgroupDir !== undefined && alive) {
        await killCgroup(cgroupDir);
        await waitUnpopulated(cgroupDir);
      }
      record.failureReason = "the server stopped before the job started";
      await this.#finish(record, "failed", new Date());
      await removeOutput(record.dir);
      return "ended";
    }
    if (!alive) {
      record.exitStatusUnknownReason = restartedReason;
      record.endTimeApproximate = true;
      await this.#finish(record, record.stopReason === undefined ? "exited" : "stopped", new Date());
      this.#log({ level: "info", message: `job ended while the server was down (exit status unknown)`, jobId: record.id, cgroup: cgroupDir });
      return "ended";
    }
    const watching = new AbortController();
    this.#running.set(record, [() => watching.abort()]);
    if (cgroupDir !== undefined) {
      // Samples taken before the restart were not kept: the timeline starts at the adoption.
      record.ring = this.#sampler.add(record, cgroupDir, record.startedAt.getTime());
      void waitUnpopulated(cgroupDir, { recheckMs: 0, signal: watching.signal }).then(
        () => this.#adoptedEnd(record, watching.signal),
        (error: unknown) => {
          this.#log({ level: "error", message: "watching an adopted job's cgroup failed", jobId: record.id, cgroup: cgroupDir, error });
          this.#adoptedEnd(record, watching.signal);
        },
      );
    } else {
      const check = setInterval(() => {
        if (processStartTicks(record.pid) !== record.startTicks) this.#adoptedEnd(record, watching.signal);
      }, unconfinedCheckMs);
      watching.signal.addEventListener("abort", () => clearInterval(check), { once: true });
    }
    this.#guard(record);
    this.#log({ level: "info", message: `adopted running job: pid ${String(record.pid)}`, jobId: record.id, cgroup: cgroupDir });
    // A stop under way when the earlier manager went resumes, with the default grace period.
    if (record.stopReason !== undefined) record.stopping = this.#stop(record, record.stopReason === "output_limit" ? 0 : this.#graceMs);
    return "adopted";
  }

  #adoptedEnd(record: JobRecord, watching: AbortSignal): void {
    if (watching.aborted || this.#detached || record.ending) return;
    record.ending = true;
    record.exitStatusUnknownReason = restartedReason;
    void this.#finish(record, record.stopReason === undefined ? "exited" : "stopped", new Date()).then(() =>
      this.#log({ level: "info", message: `adopted job ${record.state} (exit status unknown)`, jobId: record.id }),
    );
  }

  /** Arms a running job's timeout (from its start) and output limit. */
  #guard(record: JobRecord): void {
    const undo = this.#running.get(record) ?? [];
    this.#running.set(record, undo);
    const { timeoutMs, maxOutputBytes } = record.spec;
    if (timeoutMs !== undefined && record.startedAt !== undefined) {
      undo.push(
        atTime(record.startedAt.getTime() + timeoutMs, () => {
          this.#log({ level: "info", message: `job timed out after ${String(timeoutMs)} ms: stopping it`, jobId: record.id });
          this.stop(record, this.#graceMs, undefined, "timeout");
        }),
      );
    }
    record.watch.limit(maxOutputBytes, () => {
      this.#log({ level: "warn", message: `job wrote more than its output limit of ${String(maxOutputBytes)} bytes: killing it`, jobId: record.id });
      this.stop(record, 0, undefined, "output_limit");
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
      await this.#finish(record, "failed", endedAt);
      this.#log({ level: "warn", message: `job failed to start: ${record.failureReason}`, jobId: record.id });
      return;
    }
    record.exit = exit;
    await this.#finish(record, record.exitedDuringStop ? "stopped" : "exited", endedAt);
    const how = exit.signal !== null ? `signal ${exit.signal}` : `exit code ${String(exit.code)}`;
    this.#log({ level: "info", message: `job ${record.state}: ${how}${record.oomKilled ? ", OOM kill" : ""}`, jobId: record.id });
  }

  /**
   * Records a job's final state: reads the final usage of its cgroup (emptied by now) and removes it, measures
   * its output, and tells the hooks. A cgroup that is already gone leaves the last figures known.
   */
  async #finish(record: JobRecord, state: EndState, endedAt: Date): Promise<void> {
    for (const undo of this.#running.get(record) ?? []) undo();
    this.#running.delete(record);
    this.#sampler.remove(record);
    const { cgroupDir } = record;
    try {
      // Read before the cgroup goes: peaks, events and stall totals vanish with it.
      if (cgroupDir !== undefined && state !== "failed" && (await isPresent(cgroupDir))) {
        record.usage = await readUsage(cgroupDir, this.#controllers);
      }
      if (cgroupDir !== undefined) await removeCgroup(cgroupDir);
    } catch (err) {
      this.#log({ level: "error", message: "reading the job's final usage or removing its cgroup failed", jobId: record.id, cgroup: cgroupDir, error: err });
    }
    record.usage = finalUsage(record.usage);
    record.oomKilled ||= (record.usage.memoryEvents?.oomKill ?? 0) > 0;
    const { ring } = record;
    if (ring !== undefined) {
      // The last stretch since the last sample, from the final CPU time (memory is gone with the processes).
      const now = endedAt.getTime();
      if (now > ring.lastAtMs && !record.usage.unavailable.includes("cpu")) ring.push(now, Math.max(0, record.usage.cpuUsageUsec - ring.lastCpuUsec) / ((now - ring.lastAtMs) * 1000), NaN);
      record.timeline = ring.length > 0 ? JSON.stringify(ring.timeline()) : undefined;
      record.ring = undefined;
    }
    if (state !== "failed") record.measured(await outputSizes(record.dir));
    record.finish(state, endedAt);
    if (this.#detached) return;
    this.#hooks.changed(record);
    this.#hooks.ended(record);
  }

  /**
   * Stops a running job (SIGTERM to all its processes, the grace period, then kill; a grace of 0 kills at once)
   * unless its main process already exited; concurrent stops share one, and the first one's reason and stopper are
   * kept. Resolves once the stop is over (not necessarily the end).
   */
  stop(record: JobRecord, graceMs: number, by: string | undefined, reason: StopReason = "requested"): void {
    // Once the main process exited, the job is ending on its own: nothing to stop.
    if (!record.isRunning || record.ending || record.stopping !== undefined) return;
    record.stopReason = reason;
    record.stopRequestedBy = by;
    this.#hooks.changed(record);
    record.stopping = this.#stop(record, graceMs);
  }

  async #stop(record: JobRecord, graceMs: number): Promise<void> {
    const beganAt = new Date();
    record.stopTimes = { beganAt, killAt: new Date(beganAt.getTime() + graceMs) };
    if (graceMs > 0) {
      await this.#signal(record, "SIGTERM");
      const graceOver = new AbortController();
      await Promise.race([record.ended, sleep(graceMs, undefined, { signal: graceOver.signal }).catch(() => undefined)]);
      graceOver.abort();
      if (!record.isRunning) return;
    }
    await this.#signal(record, "SIGKILL");
    await record.ended;
  }

  /**
   * Signals the job's processes: those in its cgroup (SIGKILL through cgroup.kill, others through pidfds, so that no
   * reused pid is ever signalled), and the monitor while it is not yet reaped (it takes no signal but SIGKILL once it
   * runs, and dies of any before, while it is still joining the cgroup). Unconfined,
   * its process group: through the child while it is ours, else (adopted) only while its leader is still the
   * process that was started (same pid and start time), so that a recycled pid is never signalled.
   */
  async #signal(record: JobRecord, signal: NodeJS.Signals): Promise<void> {
    const child = record.child;
    const unreaped = child !== undefined && child.exitCode === null && child.signalCode === null;
    if (record.cgroupDir !== undefined) {
      try {
        if (signal === "SIGKILL") await killCgroup(record.cgroupDir);
        else await signalCgroup(record.cgroupDir, signal);
      } catch (err) {
        this.#log({ level: "warn", message: `cannot signal the job's processes`, jobId: record.id, error: err });
      }
      // Covers cgexec-enter before it joined the cgroup; Node never signals a reaped child.
      if (unreaped) child.kill(signal);
    } else if (unreaped) {
      killGroup(record.pid, signal);
    } else if (child === undefined && record.startTicks !== undefined && processStartTicks(record.pid) === record.startTicks) {
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
      record.measured(output);
    }
  }

  /**
   * Lets go of every running job without touching it (close() with onClose "keep"): no more timeouts, output
   * limits, end watches or records; the processes do not keep this one alive. Returns how many were running.
   */
  detach(): number {
    this.#detached = true;
    const running = [...this.#running.keys()];
    for (const record of running) {
      for (const undo of this.#running.get(record) ?? []) undo();
      this.#sampler.remove(record);
      record.child?.unref();
      record.watch.end();
    }
    this.#running.clear();
    return running.length;
  }
}

function isPresent(dir: string): Promise<boolean> {
  return access(dir).then(
    () => true,
    () => false,
  );
}
