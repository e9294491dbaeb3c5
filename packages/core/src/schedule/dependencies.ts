// Dependencies between jobs: whether a job's start_after conditions are met, still open, or can never be met.
import type { DependencyCondition, Job, JobDependency } from "../types.ts";

/** How a dependency must end. */
export type Condition = DependencyCondition;

/** One job a queued job waits for, and how it must end. */
export type Dependency = JobDependency;

/** The conditions, for messages. */
export const CONDITIONS: readonly Condition[] = ["succeeded", "ended", "failed"];

/** The facts of a job an evaluation reads. */
export type DependencyJob = Pick<Job, "id" | "state" | "exitCode" | "signal" | "stopReason">;

/** How a job ended, for a sentence: "exited 3", "was killed by SIGKILL", "was stopped (timeout)", "failed to start". */
export function howItEnded(job: DependencyJob): string {
  switch (job.state) {
    case "exited":
      return job.signal === undefined ? (job.exitCode === undefined ? "exited (exit status unknown)" : `exited ${String(job.exitCode)}`) : `was killed by ${job.signal}`;
    case "stopped":
      return job.stopReason === "cancelled" ? "was cancelled before it started" : `was stopped (${job.stopReason ?? "requested"})`;
    case "failed":
      return "failed to start";
    default:
      return job.state;
  }
}

/** The result of evaluating dependencies: all met, one still open, or one that can never be met (with why). */
export type Evaluation = { met: true } | { waitingFor: Dependency } | { failed: string };

/**
 * Evaluates `deps` against the jobs `lookup` finds (each must be known: a dependency is checked to exist when the
 * job is submitted, and kept while anyone depends on it). A queued or running dependency is open; an ended one meets
 * its condition or never will: "succeeded" needs exit code 0, "failed" any other end, "ended" any end.
 */
export function evaluate(deps: readonly Dependency[], lookup: (id: string) => DependencyJob | undefined): Evaluation {
  let open: Dependency | undefined;
  for (const dep of deps) {
    const job = lookup(dep.id);
    if (job === undefined) return { failed: `dependency ${dep.id} no longer exists (required: ${dep.condition})` };
    if (job.state === "queued" || job.state === "running") {
      open ??= dep;
      continue;
    }
    const succeeded = job.state === "exited" && job.exitCode === 0;
    const met = dep.condition === "ended" || (dep.condition === "succeeded") === succeeded;
    if (!met) return { failed: `dependency ${dep.id} ${howItEnded(job)} (required: ${dep.condition})` };
  }
  return open === undefined ? { met: true } : { waitingFor: open };
}
