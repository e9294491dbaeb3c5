import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Job as CoreJob, JobDependency, JobState as CoreJobState, Pressure as CorePressure, StopReason as CoreStopReason, StreamName } from "@jobexec/core";
import { DependencyCondition, JobSchema, JobState, OutputMode, OutputStream, StopReason, type Job, type PressureSchema } from "@jobexec/proto";

const states: Record<CoreJobState, JobState> = {
  queued: JobState.QUEUED,
  running: JobState.RUNNING,
  exited: JobState.EXITED,
  stopped: JobState.STOPPED,
  failed: JobState.FAILED,
};

const stopReasons: Record<CoreStopReason, StopReason> = {
  requested: StopReason.REQUESTED,
  server_shutdown: StopReason.SERVER_SHUTDOWN,
  timeout: StopReason.TIMEOUT,
  output_limit: StopReason.OUTPUT_LIMIT,
  cancelled: StopReason.CANCELLED,
};

const conditions: Record<JobDependency["condition"], DependencyCondition> = {
  succeeded: DependencyCondition.SUCCEEDED,
  ended: DependencyCondition.ENDED,
  failed: DependencyCondition.FAILED,
};

/** The wire form of a core job state. */
export function jobStateMessage(state: CoreJobState): JobState {
  return states[state];
}

/** The wire form of a core stream name. */
export function outputStreamMessage(stream: StreamName): OutputStream {
  return stream === "stdout" ? OutputStream.STDOUT : OutputStream.STDERR;
}

/** The wire form of a core job. */
export function jobMessage(job: CoreJob): Job {
  const { limits, usage } = job;
  return create(JobSchema, {
    id: job.id,
    owner: job.owner,
    program: job.program,
    args: job.args,
    workingDirectory: job.cwd,
    state: states[job.state],
    pid: job.pid,
    exitCode: job.exitCode,
    signal: job.signal ?? "",
    oomKilled: job.oomKilled,
    createTime: timestampFromDate(job.createdAt),
    startTime: job.startedAt && timestampFromDate(job.startedAt),
    endTime: job.endedAt && timestampFromDate(job.endedAt),
    stoppedBy: job.stoppedBy ?? "",
    failureReason: job.failureReason ?? "",
    limits: {
      cpu: limits.cpu,
      cpuWeight: limits.cpuWeight,
      memoryMaxBytes: optionalBig(limits.memoryMaxBytes),
      pidsMax: optionalBig(limits.pidsMax),
      io: (limits.io ?? []).map((io) => ({
        device: io.device,
        resolvedDevice: io.resolvedDevice,
        readBps: optionalBig(io.readBps),
        writeBps: optionalBig(io.writeBps),
        readIops: optionalBig(io.readIops),
        writeIops: optionalBig(io.writeIops),
      })),
    },
    usage: {
      cpuUsageUsec: big(usage.cpuUsageUsec),
      cpuUserUsec: big(usage.cpuUserUsec),
      cpuSystemUsec: big(usage.cpuSystemUsec),
      cpuThrottledUsec: big(usage.cpuThrottledUsec),
      memoryCurrentBytes: big(usage.memoryCurrentBytes),
      memoryPeakBytes: big(usage.memoryPeakBytes),
      ioReadBytes: big(usage.ioReadBytes),
      ioWriteBytes: big(usage.ioWriteBytes),
      pidsCurrent: big(usage.pidsCurrent),
      unavailable: usage.unavailable,
      cpuPeriods: optionalBig(usage.cpuPeriods),
      cpuThrottledPeriods: optionalBig(usage.cpuThrottledPeriods),
      memorySwapPeakBytes: optionalBig(usage.memorySwapPeakBytes),
      memoryEvents: usage.memoryEvents && {
        oom: big(usage.memoryEvents.oom),
        oomKill: big(usage.memoryEvents.oomKill),
        high: big(usage.memoryEvents.high),
        max: big(usage.memoryEvents.max),
      },
      ioReadOps: optionalBig(usage.ioReadOps),
      ioWriteOps: optionalBig(usage.ioWriteOps),
      pidsPeak: optionalBig(usage.pidsPeak),
      cpuPressure: pressureMessage(usage.pressure?.cpu),
      memoryPressure: pressureMessage(usage.pressure?.memory),
      ioPressure: pressureMessage(usage.pressure?.io),
    },
    timeline: job.timeline && {
      interval: durationFromMs(job.timeline.intervalMs),
      samples: job.timeline.samples.map((s) => ({ time: timestampFromMs(s.atMs), cpu: s.cpu, memoryBytes: optionalBig(s.memoryBytes) })),
    },
    output: { stdoutBytes: big(job.output.stdout), stderrBytes: big(job.output.stderr) },
    outputMode: job.outputMode === "merged" ? OutputMode.MERGED : OutputMode.SEPARATE,
    cgroup: job.cgroup ?? "",
    stopReason: job.stopReason === undefined ? StopReason.UNSPECIFIED : stopReasons[job.stopReason],
    stopping: job.stopping && {
      reason: stopReasons[job.stopping.reason],
      requestedBy: job.stopping.requestedBy ?? "",
      beginTime: timestampFromDate(job.stopping.beganAt),
      killTime: timestampFromDate(job.stopping.killAt),
    },
    exitStatusUnknown: job.exitStatusUnknownReason !== undefined,
    exitStatusUnknownReason: job.exitStatusUnknownReason ?? "",
    endTimeApproximate: job.endTimeApproximate ?? false,
    maxOutputBytes: big(job.maxOutputBytes),
    timeout: job.timeoutMs === undefined ? undefined : durationFromMs(job.timeoutMs),
    account: job.account?.name ?? "",
    uid: job.account?.uid ?? 0,
    gid: job.account?.gid ?? 0,
    isolation: { ...job.isolation, privateTmpBytes: BigInt(job.isolation.privateTmpBytes) },
    queuePosition: job.queue?.position ?? 0,
    queueReason: job.queue?.reason ?? "",
    priority: job.priority ?? 0,
    startAfter: (job.after ?? []).map((dep) => ({ id: dep.id, condition: conditions[dep.condition] })),
    notBefore: job.notBefore && timestampFromDate(job.notBefore),
  });
}

// Usage figures are integers in core; a float from a parse slip must not make BigInt throw.
function big(n: number): bigint {
  return BigInt(Math.trunc(n));
}

function optionalBig(n: number | undefined): bigint | undefined {
  return n === undefined ? undefined : big(n);
}

function pressureMessage(p: CorePressure | undefined): MessageInitShape<typeof PressureSchema> | undefined {
  return p && { ...p, someTotalUsec: big(p.someTotalUsec), fullTotalUsec: optionalBig(p.fullTotalUsec) };
}
