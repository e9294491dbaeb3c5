import type { Job } from "@jobexec/proto";
import { JobState } from "@jobexec/proto";
import { formatDuration } from "./duration.ts";
import { formatTime } from "./format-time.ts";
import { commandLine, conditionName, dateOf, displayState, isolationSummary, outcome, outputModeName, queueLine, runtimeMs, stateName, stoppingNote, timeoutMs } from "./job-facts.ts";
import { formatBytes } from "./units.ts";
import { usageSummaryLines } from "./format-usage.ts";
import { visible } from "./visible.ts";

// Like `systemctl status`: a headline, then aligned "Label: value" lines, usage next to limits.

function stateLine(job: Job, now: Date): string {
  const created = dateOf(job.createTime);
  const started = dateOf(job.startTime);
  const ended = dateOf(job.endTime);
  const ran = runtimeMs(job, now);
  switch (job.state) {
    case JobState.RUNNING: {
      const running = `running since ${started ? formatTime(started) : "?"}; ${formatDuration(ran ?? 0)} ago`;
      const stopping = stoppingNote(job, formatTime);
      return stopping === "" ? running : `stopping (${stopping}); ${running}`;
    }
    case JobState.QUEUED:
      return `queued since ${created ? formatTime(created) : "?"}`;
    case JobState.FAILED:
      return `failed to start${created ? ` at ${formatTime(created)}` : ""}: ${job.failureReason}`;
    default: {
      const by = job.state === JobState.STOPPED && job.stoppedBy !== "" ? ` by ${job.stoppedBy}` : "";
      const how = outcome(job);
      // Ended while no server ran: the end time is when the next server noticed.
      const about = job.endTimeApproximate ? "~" : "";
      const at = ended ? ` at ${about}${formatTime(ended)}${job.endTimeApproximate ? " (approximately: it ended while the server was down)" : ""}` : "";
      return `${stateName(job)}${by}${how ? ` (${how})` : ""}${at}${ran === undefined ? "" : `; ran ${about}${formatDuration(ran)}`}`;
    }
  }
}

function usec(value: bigint): string {
  return formatDuration(Number(value) / 1000);
}

function limitsOf(parts: (string | false | undefined)[]): string {
  const given = parts.filter((p): p is string => typeof p === "string");
  return given.length === 0 ? "" : `; limit ${given.join(", ")}`;
}

function usageLines(job: Job): [string, string][] {
  const usage = job.usage;
  const limits = job.limits;
  const unavailable = new Set(usage?.unavailable ?? []);
  const measured = (controller: string, text: () => string): string => (unavailable.has(controller) ? "not measured on this host" : text());
  const lines: [string, string][] = [];
  lines.push(["CPU", measured("cpu", () => {
    const u = usage;
    // Throttling needs the cpu controller; CPU time does not, so it is shown whenever the job had a cgroup.
    const throttled = u && u.cpuThrottledUsec > 0n ? `, throttled ${usec(u.cpuThrottledUsec)}` : "";
    return u ? `${usec(u.cpuUsageUsec)} (user ${usec(u.cpuUserUsec)}, system ${usec(u.cpuSystemUsec)}${throttled})` : "0ms";
  }) + limitsOf([limits?.cpu !== undefined && `${limits.cpu} CPU`, limits?.cpuWeight !== undefined && `weight ${limits.cpuWeight}`])]);
  const current = job.state === JobState.RUNNING ? `${formatBytes(Number(usage?.memoryCurrentBytes ?? 0))} ` : "";
  lines.push(["Memory", measured("memory", () => `${current}(peak ${formatBytes(Number(usage?.memoryPeakBytes ?? 0))})`) +
    limitsOf([limits?.memoryMaxBytes !== undefined && formatBytes(Number(limits.memoryMaxBytes))])]);
  lines.push(["Tasks", measured("pids", () => (job.state === JobState.RUNNING ? String(usage?.pidsCurrent ?? 0n) : "0")) +
    limitsOf([limits?.pidsMax !== undefined && String(limits.pidsMax)])]);
  const io = (limits?.io ?? []).map((l) => {
    const rates = [
      l.readBps !== undefined && `read ${formatBytes(Number(l.readBps))}/s`,
      l.writeBps !== undefined && `write ${formatBytes(Number(l.writeBps))}/s`,
      l.readIops !== undefined && `${l.readIops} read IOPS`,
      l.writeIops !== undefined && `${l.writeIops} write IOPS`,
    ].filter(Boolean);
    const device = l.resolvedDevice !== "" && l.resolvedDevice !== l.device ? `${l.device} (${l.resolvedDevice})` : l.device;
    return `${device}: ${rates.join(", ")}`;
  });
  lines.push(["IO", measured("io", () => `read ${formatBytes(Number(usage?.ioReadBytes ?? 0))}, written ${formatBytes(Number(usage?.ioWriteBytes ?? 0))}`) +
    (io.length > 0 ? `; limit ${io.join("; ")}` : "")]);
  return lines;
}

/** The human-readable status of a job, several lines ending in a newline. `now` measures a running job. */
export function formatStatus(job: Job, now: Date = new Date()): string {
  const created = dateOf(job.createTime);
  const lines: [string, string][] = [
    ["State", stateLine(job, now)],
    ...(job.state === JobState.QUEUED ? [["Queued", queueLine(job)] as [string, string]] : []),
    ...(job.startAfter.length > 0 && job.state === JobState.QUEUED ? [["After", job.startAfter.map((d) => `${d.id} (${conditionName(d.condition)})`).join(", ")] as [string, string]] : []),
    ...(job.notBefore !== undefined && job.state === JobState.QUEUED ? [["Not before", formatTime(dateOf(job.notBefore) as Date)] as [string, string]] : []),
    ["Command", commandLine(job)],
    ["Owner", job.owner],
    ...(job.account === "" ? [] : [["User", `${job.account} (uid ${job.uid}${job.gid === job.uid ? "" : `, gid ${job.gid}`})`] as [string, string]]),
    ["Created", created ? formatTime(created) : "?"],
    ["Directory", job.workingDirectory],
  ];
  if (job.pid !== 0) lines.push(["PID", String(job.pid)]);
  if (job.state !== JobState.FAILED && job.state !== JobState.QUEUED) lines.push(...usageLines(job), ...usageSummaryLines(job));
  const outputLimit = job.maxOutputBytes > 0n ? `; limit ${formatBytes(Number(job.maxOutputBytes))}` : "";
  lines.push(["Output", `stdout ${formatBytes(Number(job.output?.stdoutBytes ?? 0))}, stderr ${formatBytes(Number(job.output?.stderrBytes ?? 0))} (${outputModeName(job)})${outputLimit}`]);
  const timeout = timeoutMs(job);
  if (timeout !== undefined) lines.push(["Timeout", formatDuration(timeout)]);
  lines.push(["Cgroup", job.cgroup === "" ? "none (this host has no cgroup v2: the job ran without limits)" : job.cgroup]);
  lines.push(["Isolation", isolationSummary(job)]);
  const width = Math.max(...lines.map(([label]) => label.length));
  const bullet = job.state === JobState.RUNNING ? "●" : "○";
  // Values come from the job and its owner (command, directory, failure reason, names): control characters made visible.
  return `${bullet} ${visible(job.id)} - ${displayState(job)}\n${lines.map(([label, value]) => `  ${label.padStart(width)}: ${visible(value)}`).join("\n")}\n`;
}
