import { JobState, OutputMode, type Job } from "@jobexec/proto";
import { visible } from "../app/visible.ts";
import { commandLine, durationMillis, formatBytes, formatDuration, formatTime, millis, outcome, runtime, stateLabel } from "../app/format.ts";

function usec(value: bigint | undefined): string {
  return formatDuration(Number(value ?? 0n) / 1000);
}

function limitText(parts: (string | false | undefined)[]): string {
  const given = parts.filter((p): p is string => typeof p === "string");
  return given.length === 0 ? "" : `; limit ${given.join(", ")}`;
}

function isolation(job: Job): string {
  const i = job.isolation;
  if (i === undefined) return "none";
  const parts = [
    i.privateNetwork && "private network",
    i.privateTmp && `private /tmp (${formatBytes(Number(i.privateTmpBytes ?? 0n))})`,
    i.readOnlySystem && "read-only system",
  ].filter((p): p is string => typeof p === "string");
  return parts.length === 0 ? "none" : parts.join(", ");
}

/** The facts `jobexec status` prints, as label and value pairs (values are text, shown as text). */
export function jobFacts(job: Job, now: number): [string, string][] {
  const facts: [string, string][] = [];
  const ran = runtime(job, now);
  const how = outcome(job);
  facts.push(["State", `${stateLabel(job)}${how === "" ? "" : ` (${how})`}`]);
  if (job.state === JobState.QUEUED) {
    if (job.startAfter.length > 0) facts.push(["After", job.startAfter.map((d) => d.id).join(", ")]);
    if (job.notBefore !== undefined) facts.push(["Not before", formatTime(millis(job.notBefore))]);
    facts.push(["Priority", String(job.priority)]);
  }
  if (job.stopping !== undefined && job.state === JobState.RUNNING) {
    facts.push(["Stopping", `SIGTERM sent at ${formatTime(millis(job.stopping.beginTime))}; SIGKILL at ${formatTime(millis(job.stopping.killTime))} unless it ends first`]);
  }
  facts.push(["Command", commandLine(job)]);
  facts.push(["Owner", job.owner]);
  if (job.account !== "") facts.push(["User", `${job.account} (uid ${job.uid}${job.gid === job.uid ? "" : `, gid ${job.gid}`})`]);
  facts.push(["Created", formatTime(millis(job.createTime))]);
  if (job.startTime !== undefined) facts.push(["Started", formatTime(millis(job.startTime))]);
  if (job.endTime !== undefined) facts.push(["Ended", `${job.endTimeApproximate ? "~" : ""}${formatTime(millis(job.endTime))}`]);
  if (ran !== undefined) facts.push(["Run time", formatDuration(ran)]);
  facts.push(["Directory", job.workingDirectory]);
  if (job.pid !== 0) facts.push(["PID", String(job.pid)]);
  if (job.state !== JobState.FAILED && job.state !== JobState.QUEUED) {
    const u = job.usage;
    const l = job.limits;
    const unavailable = new Set(u?.unavailable ?? []);
    const measured = (controller: string, text: string): string => (unavailable.has(controller) ? "not measured on this host" : text);
    facts.push(["CPU", measured("cpu", `${usec(u?.cpuUsageUsec)} (user ${usec(u?.cpuUserUsec)}, system ${usec(u?.cpuSystemUsec)}${u && u.cpuThrottledUsec > 0n ? `, throttled ${usec(u.cpuThrottledUsec)}` : ""})`) +
      limitText([l?.cpu !== undefined && `${l.cpu} CPU`, l?.cpuWeight !== undefined && `weight ${l.cpuWeight}`])]);
    const current = job.state === JobState.RUNNING ? `${formatBytes(Number(u?.memoryCurrentBytes ?? 0n))} ` : "";
    facts.push(["Memory", measured("memory", `${current}(peak ${formatBytes(Number(u?.memoryPeakBytes ?? 0n))})`) + limitText([l?.memoryMaxBytes !== undefined && formatBytes(Number(l.memoryMaxBytes))])]);
    facts.push(["Tasks", measured("pids", job.state === JobState.RUNNING ? String(u?.pidsCurrent ?? 0n) : `peak ${String(u?.pidsPeak ?? "?")}`) + limitText([l?.pidsMax !== undefined && String(l.pidsMax)])]);
    const io = (l?.io ?? []).map((limit) => `${limit.device}: ${[
      limit.readBps !== undefined && `read ${formatBytes(Number(limit.readBps))}/s`,
      limit.writeBps !== undefined && `write ${formatBytes(Number(limit.writeBps))}/s`,
      limit.readIops !== undefined && `${limit.readIops} read IOPS`,
      limit.writeIops !== undefined && `${limit.writeIops} write IOPS`,
    ].filter(Boolean).join(", ")}`);
    facts.push(["IO", measured("io", `read ${formatBytes(Number(u?.ioReadBytes ?? 0n))}, written ${formatBytes(Number(u?.ioWriteBytes ?? 0n))}`) + (io.length > 0 ? `; limit ${io.join("; ")}` : "")]);
    const pressure = (name: string, p: { someTotalUsec: bigint } | undefined) => p !== undefined && `${name} ${usec(p.someTotalUsec)}`;
    const stalls = [pressure("CPU", u?.cpuPressure), pressure("memory", u?.memoryPressure), pressure("IO", u?.ioPressure)].filter(Boolean);
    if (stalls.length > 0) facts.push(["Stalled", `waiting for ${stalls.join(", ")}`]);
    if (u?.memoryEvents !== undefined && (u.memoryEvents.oomKill > 0n || u.memoryEvents.max > 0n)) {
      facts.push(["Memory events", `${u.memoryEvents.oomKill} OOM kills, ${u.memoryEvents.max} times at the limit, ${u.memoryEvents.high} over high`]);
    }
  }
  const outputLimit = job.maxOutputBytes > 0n ? `; limit ${formatBytes(Number(job.maxOutputBytes))}` : "";
  facts.push(["Output", `stdout ${formatBytes(Number(job.output?.stdoutBytes ?? 0n))}, stderr ${formatBytes(Number(job.output?.stderrBytes ?? 0n))} (${job.outputMode === OutputMode.MERGED ? "merged" : "separate"})${outputLimit}`]);
  const timeout = durationMillis(job.timeout);
  if (timeout !== undefined) facts.push(["Timeout", formatDuration(timeout)]);
  facts.push(["Cgroup", job.cgroup === "" ? "none" : job.cgroup]);
  facts.push(["Isolation", isolation(job)]);
  return facts;
}

/** The facts as a definition list. */
export function JobFacts({ job, now }: { job: Job; now: number }) {
  return (
    <dl class="facts">
      {jobFacts(job, now).map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{visible(value)}</dd>
        </div>
      ))}
    </dl>
  );
}
