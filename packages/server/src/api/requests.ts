import { Code, ConnectError } from "@connectrpc/connect";
import { type Duration, timestampDate } from "@bufbuild/protobuf/wkt";
import {
  isJobId,
  type IoLimit,
  type IsolationSpec,
  type JobDependency,
  type JobSpec,
  type JobState as CoreJobState,
  type Limits,
  type OutputOptions,
  type StartOptions,
} from "@jobexec/core";
import {
  JobState,
  OutputMode,
  DependencyCondition,
  OutputStream,
  QueuePolicy,
  type IoLimit as IoLimitMessage,
  type Isolation as IsolationMessage,
  type Limits as LimitsMessage,
  type StartJobRequest,
  type StreamOutputRequest,
} from "@jobexec/proto";

// Request-level checks: refuse what is malformed on the wire before core sees it, with a sentence naming the field.

/** Longest grace period a StopJob may ask for. */
export const MAX_GRACE_MS = 60 * 60 * 1000;
/** Most lines StreamOutput's tail_lines may ask for. */
export const MAX_TAIL_LINES = 1_000_000;
const MAX_PROGRAM_LENGTH = 4096;
// A timeout in whole milliseconds stays exact below 2^53.
const MAX_TIMEOUT_SECONDS = BigInt(Math.floor(Number.MAX_SAFE_INTEGER / 1000));

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/** Checks a job id field, quoting at most a short prefix of a bad value. */
export function jobId(id: string): string {
  if (id === "") throw invalid("id is required");
  if (!isJobId(id)) throw invalid(`id ${JSON.stringify(id.slice(0, 40))} is not a job id (a lowercase UUID)`);
  return id;
}

/** Caps on the size of a job's command line and environment (see limits.ts). */
export interface SpecLimits {
  maxArgsBytes: number;
  maxEnvBytes: number;
}

// Bytes a string takes in execve's argv or envp: its UTF-8 encoding and a NUL.
function execBytes(s: string): number {
  return Buffer.byteLength(s) + 1;
}

/** Converts and checks a StartJobRequest. */
export function jobSpec(req: StartJobRequest, caps: SpecLimits): JobSpec {
  if (req.program === "") throw invalid("program is required");
  if (req.program.length > MAX_PROGRAM_LENGTH) throw invalid(`program is longer than ${MAX_PROGRAM_LENGTH} characters`);
  noNul(req.program, "program");
  req.args.forEach((arg, i) => noNul(arg, `args[${i}]`));
  const argsBytes = req.args.reduce((sum, arg) => sum + execBytes(arg), execBytes(req.program));
  if (argsBytes > caps.maxArgsBytes) {
    throw invalid(`program and args take ${argsBytes} bytes, over the server's limit of ${caps.maxArgsBytes} bytes (--max-args-size; each string counted with a NUL)`);
  }
  let envBytes = 0;
  for (const [name, value] of Object.entries(req.env)) {
    if (name === "" || name.includes("=")) throw invalid(`env name ${JSON.stringify(name.slice(0, 40))} must be non-empty and without "="`);
    // A newline or other control character in a name would forge or hide variables wherever the environment is
    // printed or parsed line by line (env, /proc/PID/environ readers, .env files).
    if (/\p{Cc}/u.test(name)) throw invalid(`env name ${JSON.stringify(name.slice(0, 40))} contains a control character`);
    noNul(value, `env ${name.slice(0, 40)}`);
    envBytes += execBytes(`${name}=${value}`);
  }
  if (envBytes > caps.maxEnvBytes) {
    throw invalid(`env takes ${envBytes} bytes, over the server's limit of ${caps.maxEnvBytes} bytes (--max-env-size; each NAME=VALUE counted with a NUL)`);
  }
  if (req.workingDirectory !== "" && !req.workingDirectory.startsWith("/")) {
    throw invalid(`working_directory ${JSON.stringify(req.workingDirectory.slice(0, 80))} must be an absolute path`);
  }
  noNul(req.workingDirectory, "working_directory");
  const spec: JobSpec = { program: req.program, args: req.args, env: { ...req.env }, outputMode: outputMode(req.outputMode) };
  if (req.workingDirectory !== "") spec.cwd = req.workingDirectory;
  if (req.limits) spec.limits = limits(req.limits);
  if (req.maxOutputBytes !== undefined) spec.maxOutputBytes = positive(req.maxOutputBytes, "max_output_bytes");
  if (req.timeout) spec.timeoutMs = timeoutMs(req.timeout);
  if (req.isolation) spec.isolation = isolation(req.isolation);
  return spec;
}

function timeoutMs(timeout: Duration): number {
  if (timeout.seconds < 0n || timeout.nanos < 0 || timeout.nanos > 999_999_999) throw invalid("timeout must be a positive duration (nanos 0 to 999999999)");
  if (timeout.seconds > MAX_TIMEOUT_SECONDS) throw invalid(`timeout must be at most ${String(MAX_TIMEOUT_SECONDS)} s`);
  const ms = Number(timeout.seconds) * 1000 + Math.ceil(timeout.nanos / 1e6);
  if (ms <= 0) throw invalid("timeout must be positive (unset means no timeout)");
  return ms;
}

// Each field unset takes the server's default (core fills it in); set ones are passed on as asked.
function isolation(i: IsolationMessage): IsolationSpec {
  const out: IsolationSpec = {};
  if (i.privateNetwork !== undefined) out.privateNetwork = i.privateNetwork;
  if (i.privateTmp !== undefined) out.privateTmp = i.privateTmp;
  if (i.privateTmpBytes !== undefined) out.privateTmpBytes = positive(i.privateTmpBytes, "isolation.private_tmp_bytes");
  if (i.readOnlySystem !== undefined) out.readOnlySystem = i.readOnlySystem;
  return out;
}

function outputMode(mode: OutputMode): JobSpec["outputMode"] {
  switch (mode) {
    case OutputMode.UNSPECIFIED:
    case OutputMode.SEPARATE:
      return "separate";
    case OutputMode.MERGED:
      return "merged";
    default:
      throw invalid(`output_mode ${mode} is not a known output mode`);
  }
}

function limits(l: LimitsMessage): Limits {
  const out: Limits = {};
  if (l.cpu !== undefined) {
    if (!Number.isFinite(l.cpu) || l.cpu <= 0) throw invalid(`limits.cpu must be a number of CPUs above 0, not ${l.cpu}`);
    out.cpu = l.cpu;
  }
  if (l.cpuWeight !== undefined) {
    if (l.cpuWeight < 1 || l.cpuWeight > 10000) throw invalid(`limits.cpu_weight must be 1 to 10000, not ${l.cpuWeight}`);
    out.cpuWeight = l.cpuWeight;
  }
  if (l.memoryMaxBytes !== undefined) out.memoryMaxBytes = positive(l.memoryMaxBytes, "limits.memory_max_bytes");
  if (l.pidsMax !== undefined) out.pidsMax = positive(l.pidsMax, "limits.pids_max");
  if (l.io.length > 0) out.io = l.io.map((io, i) => ioLimit(io, `limits.io[${i}]`));
  return out;
}

function ioLimit(io: IoLimitMessage, field: string): IoLimit {
  if (io.device === "") throw invalid(`${field}.device is required`);
  noNul(io.device, `${field}.device`);
  if (io.resolvedDevice !== "") throw invalid(`${field}.resolved_device is output only`);
  const out: IoLimit = { device: io.device };
  if (io.readBps !== undefined) out.readBps = positive(io.readBps, `${field}.read_bps`);
  if (io.writeBps !== undefined) out.writeBps = positive(io.writeBps, `${field}.write_bps`);
  if (io.readIops !== undefined) out.readIops = positive(io.readIops, `${field}.read_iops`);
  if (io.writeIops !== undefined) out.writeIops = positive(io.writeIops, `${field}.write_iops`);
  if (Object.keys(out).length === 1) throw invalid(`${field} sets no limit: give at least one of read_bps, write_bps, read_iops, write_iops`);
  return out;
}

function positive(n: bigint, field: string): number {
  if (n <= 0n || n > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(`${field} must be a positive integer up to 2^53-1, not ${n}`);
  return Number(n);
}

function nonNegative(n: bigint, field: string): number {
  if (n < 0n || n > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(`${field} must be 0 or a positive integer up to 2^53-1, not ${n}`);
  return Number(n);
}

function noNul(s: string, field: string): void {
  if (s.includes("\0")) throw invalid(`${field} contains a NUL character`);
}

/** Most start_after entries of one request (core's bound). */
const MAX_DEPENDENCIES = 64;

const conditions = new Map<DependencyCondition, JobDependency["condition"]>([
  [DependencyCondition.UNSPECIFIED, "succeeded"],
  [DependencyCondition.SUCCEEDED, "succeeded"],
  [DependencyCondition.ENDED, "ended"],
  [DependencyCondition.FAILED, "failed"],
]);

/**
 * The core start options of a StartJobRequest's queue fields: priority (core checks its bounds), queue policy,
 * start_after (whether the caller may see each job is the handler's to check) and not_before.
 */
export function queueOptions(req: StartJobRequest): Pick<StartOptions, "priority" | "policy" | "after" | "notBefore"> {
  let policy: "queue" | "refuse";
  switch (req.queuePolicy) {
    case QueuePolicy.UNSPECIFIED:
    case QueuePolicy.QUEUE:
      policy = "queue";
      break;
    case QueuePolicy.REFUSE:
      policy = "refuse";
      break;
    default:
      throw invalid(`queue_policy ${String(req.queuePolicy)} is not QUEUE_POLICY_QUEUE or QUEUE_POLICY_REFUSE`);
  }
  if (req.startAfter.length > MAX_DEPENDENCIES) throw invalid(`start_after has ${String(req.startAfter.length)} entries, more than ${String(MAX_DEPENDENCIES)}`);
  const after = req.startAfter.map((dep, i): JobDependency => {
    if (!isJobId(dep.id)) throw invalid(`start_after[${String(i)}].id ${JSON.stringify(dep.id.slice(0, 40))} is not a job id (a lowercase UUID)`);
    const condition = conditions.get(dep.condition);
    if (condition === undefined) throw invalid(`start_after[${String(i)}].condition ${String(dep.condition)} is not SUCCEEDED, ENDED or FAILED`);
    return { id: dep.id, condition };
  });
  const options: Pick<StartOptions, "priority" | "policy" | "after" | "notBefore"> = { priority: req.priority, policy };
  if (after.length > 0) options.after = after;
  if (req.notBefore) {
    if (req.notBefore.nanos < 0 || req.notBefore.nanos > 999_999_999) throw invalid("not_before nanos must be from 0 to 999999999");
    const at = timestampDate(req.notBefore);
    if (!Number.isFinite(at.getTime())) throw invalid("not_before is out of range");
    options.notBefore = at;
  }
  return options;
}

/** Milliseconds of a StopJob grace period, or undefined for the server's default. */
export function graceMs(grace: Duration | undefined): number | undefined {
  if (!grace) return undefined;
  if (grace.seconds < 0n || grace.nanos < 0) throw invalid("grace_period must not be negative");
  if (grace.nanos > 999_999_999) throw invalid("grace_period nanos must be below one second");
  const ms = Number(grace.seconds) * 1000 + Math.ceil(grace.nanos / 1e6);
  if (ms > MAX_GRACE_MS) throw invalid(`grace_period must be at most ${MAX_GRACE_MS / 1000} s`);
  return ms;
}

const coreStates = new Map<JobState, CoreJobState>([
  [JobState.QUEUED, "queued"],
  [JobState.RUNNING, "running"],
  [JobState.EXITED, "exited"],
  [JobState.STOPPED, "stopped"],
  [JobState.FAILED, "failed"],
]);

/** The core states of a ListJobs filter. */
export function jobStates(states: JobState[]): CoreJobState[] | undefined {
  if (states.length === 0) return undefined;
  return states.map((s) => {
    const state = coreStates.get(s);
    if (!state) throw invalid(`states: ${s} is not a job state to filter on (QUEUED, RUNNING, EXITED, STOPPED or FAILED)`);
    return state;
  });
}

/** Core output options of a StreamOutputRequest (without the abort signal). */
export function outputOptions(req: StreamOutputRequest): Omit<OutputOptions, "signal"> {
  const stdout = nonNegative(req.stdoutOffset, "stdout_offset");
  const stderr = nonNegative(req.stderrOffset, "stderr_offset");
  const tail = nonNegative(req.tailLines, "tail_lines");
  if (tail > MAX_TAIL_LINES) throw invalid(`tail_lines must be at most ${MAX_TAIL_LINES}`);
  if (tail > 0 && (stdout > 0 || stderr > 0)) throw invalid("tail_lines cannot be combined with stdout_offset or stderr_offset");
  return { stream: outputStream(req.stream), follow: req.follow, from: tail > 0 ? { tailLines: tail } : { stdout, stderr } };
}

function outputStream(stream: OutputStream): OutputOptions["stream"] {
  switch (stream) {
    case OutputStream.UNSPECIFIED:
    case OutputStream.BOTH:
      return "both";
    case OutputStream.STDOUT:
      return "stdout";
    case OutputStream.STDERR:
      return "stderr";
    default:
      throw invalid(`stream ${stream} is not a known output stream`);
  }
}
