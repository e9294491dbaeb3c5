import { JobState, type Job } from "@jobexec/proto";
import { formatDuration } from "./duration.ts";
import { formatTime } from "./format-time.ts";
import { commandLine, dateOf, displayState, outcome, runtimeMs } from "./job-facts.ts";
import { visible } from "./visible.ts";

/** Widest a COMMAND cell gets before it is cut with an ellipsis. */
const commandWidth = 60;

const header = ["ID", "OWNER", "STATE", "RESULT", "CREATED", "RAN", "COMMAND"];

// Every cell with its control characters made visible (visible.ts): they come from jobs and their owners.
function row(job: Job, now: Date): string[] {
  const command = visible(commandLine(job));
  const ran = runtimeMs(job, now);
  const created = dateOf(job.createTime);
  return [
    visible(job.id),
    visible(job.owner),
    displayState(job),
    job.state === JobState.RUNNING ? "" : job.state === JobState.QUEUED ? visible(`#${String(job.queuePosition)}: ${job.queueReason}`) : visible(outcome(job).replace(/^failed to start: .*/s, "failed to start")),
    created ? formatTime(created) : "",
    ran === undefined ? "" : formatDuration(ran),
    command.length > commandWidth ? `${command.slice(0, commandWidth - 1)}…` : command,
  ];
}

/**
 * The job table of `jobexec list`, printed a page at a time as the pages arrive: the first page prints the header and
 * sets the column widths; later pages keep them (a wider cell shifts only its own line), so that no row waits for the
 * whole listing.
 */
export class ListTable {
  #widths: number[] | undefined;

  /** The lines of one page (with the header on the first page). */
  page(jobs: Job[], now: Date = new Date()): string {
    const rows = jobs.map((job) => row(job, now));
    if (rows.length === 0) return "";
    let lines = rows;
    if (this.#widths === undefined) {
      this.#widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
      lines = [header, ...rows];
    }
    const widths = this.#widths;
    const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd();
    return `${lines.map(line).join("\n")}\n`;
  }
}

/** The job table of `jobexec list` for one set of jobs: one header line and one line per job, columns aligned. */
export function formatList(jobs: Job[], now: Date = new Date()): string {
  return new ListTable().page(jobs, now);
}
