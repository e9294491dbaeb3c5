import { JobState, type Job } from "@jobexec/proto";
import { formatDuration } from "./duration.ts";
import { formatTime } from "./format-time.ts";
import { commandLine, dateOf, outcome, runtimeMs, stateName } from "./job-facts.ts";

/** Widest a COMMAND cell gets before it is cut with an ellipsis. */
const commandWidth = 60;

/** The job table of `jobexec list`: one header line and one line per job, columns padded to align. */
export function formatList(jobs: Job[], now: Date = new Date()): string {
  const rows = jobs.map((job) => {
    const command = commandLine(job);
    const ran = runtimeMs(job, now);
    const created = dateOf(job.createTime);
    return [
      job.id,
      job.owner,
      stateName(job),
      job.state === JobState.RUNNING ? "" : outcome(job).replace(/^failed to start: .*/, "failed to start"),
      created ? formatTime(created) : "",
      ran === undefined ? "" : formatDuration(ran),
      command.length > commandWidth ? `${command.slice(0, commandWidth - 1)}…` : command,
    ];
  });
  const header = ["ID", "OWNER", "STATE", "RESULT", "CREATED", "RAN", "COMMAND"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd();
  return `${[header, ...rows].map(line).join("\n")}\n`;
}
