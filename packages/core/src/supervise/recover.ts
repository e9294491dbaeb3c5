// Start-up: every stored job back, running ones adopted or ended, what no record owns removed, retention applied.
import type { CgroupSubtree } from "../cgroup/subtree.ts";
import { outputSizesNow } from "../output/output-files.ts";
import type { JobTable } from "../store/job-table.ts";
import type { LogEvent } from "../types.ts";
import { removeLeftovers } from "./leftovers.ts";
import type { JobRecord } from "./job-record.ts";
import type { Retention } from "./retention.ts";
import type { Supervisor } from "./supervisor.ts";
import { settleUnstarted } from "./unstarted.ts";

/** The parts of a manager that recovery puts back together. */
export interface RecoveryParts {
  jobs: JobTable;
  supervisor: Supervisor;
  retention: Retention<JobRecord>;
  jobsDir: string;
  subtree: CgroupSubtree | undefined;
  log: (event: LogEvent) => void;
}

/**
 * Loads every stored record into the table; each one whose record says "running" is adopted or recorded as ended
 * (see {@link Supervisor.adopt}), but for queued jobs admitted and not started, queued again (see settleUnstarted);
 * output directories and job cgroups that no record (no running job) owns are removed; finished jobs are handed to
 * retention, whose first sweep is the caller's (once the queue is back: a job a queued job waits for is kept). Logs
 * one line with the counts and the time it took.
 */
export async function recover({ jobs, supervisor, retention, jobsDir, subtree, log }: RecoveryParts): Promise<void> {
  const began = performance.now();
  const records = jobs.restore(jobsDir);
  for (const record of records) jobs.add(record);
  const finished = records.filter((r) => r.isEnded);
  // What their output takes on disk is measured, not stored: two stat calls each.
  for (const record of finished) record.outputDisk = outputSizesNow(record.dir).disk;
  retention.add(finished);
  // Queued jobs admitted just before the earlier manager died, not started: queued again unless they ran.
  let requeued = 0;
  for (const record of records.filter((r) => r.isRunning && r.startedAt === undefined && r.request !== undefined)) {
    if ((await settleUnstarted(record)) === "queued") {
      jobs.save(record);
      requeued++;
    }
  }
  if (requeued > 0) log({ level: "info", message: `${String(requeued)} job(s) admitted from the queue but not started when the server stopped are queued again` });
  const running = records.filter((r) => r.isRunning);
  const outcomes = await Promise.all(running.map((r) => supervisor.adopt(r)));
  const adopted = new Set(running.filter((_, i) => outcomes[i] === "adopted").map((r) => r.id));
  await removeLeftovers(jobsDir, subtree, new Set(records.map((r) => r.id)), adopted, log);
  log({
    level: "info",
    message: `loaded ${String(records.length)} job record(s): ${String(adopted.size)} running job(s) adopted, ${String(running.length - adopted.size)} ended while the server was down; took ${(performance.now() - began).toFixed(1)} ms`,
  });
}
