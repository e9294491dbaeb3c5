import { JobState, type Job, type Pressure } from "@jobexec/proto";
import { commandLine, conditionName, dateOf, outcome, outputModeName, runtimeMs, stateName, stopReasonName, stopReasonNames, timeoutMs } from "./job-facts.ts";

// The stable JSON shape of a job, documented in JSON.md. Every key is always present; absent values are null.
// int64 fields become JSON numbers (exact below 2^53, which byte and microsecond counts stay under).

/** The --json shape of one IO limit. */
export interface IoLimitJson {
  device: string;
  resolvedDevice: string | null;
  readBps: number | null;
  writeBps: number | null;
  readIops: number | null;
  writeIops: number | null;
}

/** The --json shape of a resource's pressure stall figures; the averages are null once the job ended. */
export interface PressureJson {
  someTotalUsec: number;
  fullTotalUsec: number | null;
  someAvg10: number | null;
  someAvg60: number | null;
  fullAvg10: number | null;
  fullAvg60: number | null;
}

/** The --json shape of a job. */
export interface JobJson {
  id: string;
  owner: string;
  account: string | null;
  uid: number | null;
  gid: number | null;
  state: string;
  program: string;
  args: string[];
  commandLine: string;
  workingDirectory: string;
  pid: number | null;
  exitCode: number | null;
  signal: string | null;
  oomKilled: boolean;
  failureReason: string | null;
  stoppedBy: string | null;
  stopReason: string | null;
  exitStatusUnknown: boolean;
  exitStatusUnknownReason: string | null;
  outcome: string | null;
  createTime: string | null;
  startTime: string | null;
  endTime: string | null;
  endTimeApproximate: boolean;
  durationMs: number | null;
  maxOutputBytes: number | null;
  timeoutMs: number | null;
  limits: {
    cpu: number | null;
    cpuWeight: number | null;
    memoryMaxBytes: number | null;
    pidsMax: number | null;
    io: IoLimitJson[];
  };
  usage: {
    cpuUsageUsec: number;
    cpuUserUsec: number;
    cpuSystemUsec: number;
    cpuThrottledUsec: number;
    memoryCurrentBytes: number;
    memoryPeakBytes: number;
    ioReadBytes: number;
    ioWriteBytes: number;
    pidsCurrent: number;
    unavailable: string[];
    cpuPeriods: number | null;
    cpuThrottledPeriods: number | null;
    memorySwapPeakBytes: number | null;
    memoryEvents: { oom: number; oomKill: number; high: number; max: number } | null;
    ioReadOps: number | null;
    ioWriteOps: number | null;
    pidsPeak: number | null;
    pressure: { cpu: PressureJson | null; memory: PressureJson | null; io: PressureJson | null };
  };
  /** Only with `status --timeline`; null otherwise and when the job has none. */
  timeline: { intervalMs: number | null; samples: { time: string | null; cpu: number | null; memoryBytes: number | null }[] } | null;
  output: { mode: "merged" | "separate"; stdoutBytes: number; stderrBytes: number };
  cgroup: string | null;
  isolation: { privateNetwork: boolean; privateTmp: boolean; privateTmpBytes: number; readOnlySystem: boolean };
  /** Set while queued: its place among its owner's queued jobs, what it waits for, and what was asked. */
  queue: { position: number; reason: string; priority: number; after: { id: string; condition: "ok" | "any" | "failed" }[]; notBefore: string | null } | null;
  stopping: { reason: string; requestedBy: string | null; beginTime: string | null; killTime: string | null } | null;
}

const num = (value: bigint | number | undefined): number | null => (value === undefined ? null : Number(value));
const text = (value: string): string | null => (value === "" ? null : value);
const time = (job: Job, key: "createTime" | "startTime" | "endTime"): string | null => dateOf(job[key])?.toISOString() ?? null;

function pressureJson(p: Pressure | undefined): PressureJson | null {
  if (p === undefined) return null;
  return { someTotalUsec: Number(p.someTotalUsec), fullTotalUsec: num(p.fullTotalUsec), someAvg10: p.someAvg10 ?? null, someAvg60: p.someAvg60 ?? null, fullAvg10: p.fullAvg10 ?? null, fullAvg60: p.fullAvg60 ?? null };
}

/** Converts a job to its stable JSON shape (see JSON.md). `now` measures the duration of a running job. */
export function jobJson(job: Job, now: Date = new Date()): JobJson {
  const usage = job.usage;
  return {
    id: job.id,
    owner: job.owner,
    account: text(job.account),
    uid: job.account === "" ? null : job.uid,
    gid: job.account === "" ? null : job.gid,
    state: stateName(job),
    program: job.program,
    args: [...job.args],
    commandLine: commandLine(job),
    workingDirectory: job.workingDirectory,
    pid: job.pid === 0 ? null : job.pid,
    exitCode: job.exitCode ?? null,
    signal: text(job.signal),
    oomKilled: job.oomKilled,
    failureReason: text(job.failureReason),
    stoppedBy: text(job.stoppedBy),
    stopReason: stopReasonName(job) ?? null,
    exitStatusUnknown: job.exitStatusUnknown,
    exitStatusUnknownReason: text(job.exitStatusUnknownReason),
    outcome: text(outcome(job)),
    createTime: time(job, "createTime"),
    startTime: time(job, "startTime"),
    endTime: time(job, "endTime"),
    endTimeApproximate: job.endTimeApproximate,
    durationMs: runtimeMs(job, now) ?? null,
    maxOutputBytes: job.maxOutputBytes > 0n ? Number(job.maxOutputBytes) : null,
    timeoutMs: timeoutMs(job) ?? null,
    limits: {
      cpu: job.limits?.cpu ?? null,
      cpuWeight: job.limits?.cpuWeight ?? null,
      memoryMaxBytes: num(job.limits?.memoryMaxBytes),
      pidsMax: num(job.limits?.pidsMax),
      io: (job.limits?.io ?? []).map((io) => ({
        device: io.device,
        resolvedDevice: text(io.resolvedDevice),
        readBps: num(io.readBps),
        writeBps: num(io.writeBps),
        readIops: num(io.readIops),
        writeIops: num(io.writeIops),
      })),
    },
    usage: {
      cpuUsageUsec: Number(usage?.cpuUsageUsec ?? 0),
      cpuUserUsec: Number(usage?.cpuUserUsec ?? 0),
      cpuSystemUsec: Number(usage?.cpuSystemUsec ?? 0),
      cpuThrottledUsec: Number(usage?.cpuThrottledUsec ?? 0),
      memoryCurrentBytes: Number(usage?.memoryCurrentBytes ?? 0),
      memoryPeakBytes: Number(usage?.memoryPeakBytes ?? 0),
      ioReadBytes: Number(usage?.ioReadBytes ?? 0),
      ioWriteBytes: Number(usage?.ioWriteBytes ?? 0),
      pidsCurrent: Number(usage?.pidsCurrent ?? 0),
      unavailable: [...(usage?.unavailable ?? [])],
      cpuPeriods: num(usage?.cpuPeriods),
      cpuThrottledPeriods: num(usage?.cpuThrottledPeriods),
      memorySwapPeakBytes: num(usage?.memorySwapPeakBytes),
      memoryEvents: usage?.memoryEvents === undefined ? null : { oom: Number(usage.memoryEvents.oom), oomKill: Number(usage.memoryEvents.oomKill), high: Number(usage.memoryEvents.high), max: Number(usage.memoryEvents.max) },
      ioReadOps: num(usage?.ioReadOps),
      ioWriteOps: num(usage?.ioWriteOps),
      pidsPeak: num(usage?.pidsPeak),
      pressure: { cpu: pressureJson(usage?.cpuPressure), memory: pressureJson(usage?.memoryPressure), io: pressureJson(usage?.ioPressure) },
    },
    timeline: job.timeline === undefined ? null : {
      intervalMs: job.timeline.interval === undefined ? null : Number(job.timeline.interval.seconds) * 1000 + job.timeline.interval.nanos / 1e6,
      samples: job.timeline.samples.map((s) => ({ time: dateOf(s.time)?.toISOString() ?? null, cpu: s.cpu ?? null, memoryBytes: num(s.memoryBytes) })),
    },
    output: {
      mode: outputModeName(job),
      stdoutBytes: Number(job.output?.stdoutBytes ?? 0),
      stderrBytes: Number(job.output?.stderrBytes ?? 0),
    },
    cgroup: text(job.cgroup),
    isolation: {
      privateNetwork: job.isolation?.privateNetwork === true,
      privateTmp: job.isolation?.privateTmp === true,
      privateTmpBytes: Number(job.isolation?.privateTmpBytes ?? 0),
      readOnlySystem: job.isolation?.readOnlySystem === true,
    },
    queue:
      job.state === JobState.QUEUED
        ? {
            position: job.queuePosition,
            reason: job.queueReason,
            priority: job.priority,
            after: job.startAfter.map((d) => ({ id: d.id, condition: conditionName(d.condition) })),
            notBefore: dateOf(job.notBefore)?.toISOString() ?? null,
          }
        : null,
    stopping: job.stopping === undefined ? null : {
      reason: stopReasonNames[job.stopping.reason] ?? "requested",
      requestedBy: text(job.stopping.requestedBy),
      beginTime: dateOf(job.stopping.beginTime)?.toISOString() ?? null,
      killTime: dateOf(job.stopping.killTime)?.toISOString() ?? null,
    },
  };
}
