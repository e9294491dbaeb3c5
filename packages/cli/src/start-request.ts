import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  DependencyCondition,
  DependencySchema,
  IoLimitSchema,
  IsolationSchema,
  LimitsSchema,
  OutputMode,
  QueuePolicy,
  StartJobRequestSchema,
  type IoLimit,
  type StartJobRequest,
} from "@jobexec/proto";
import { parseDuration } from "./duration.ts";
import { envFromFlag, readEnvFile } from "./env-flags.ts";
import { CliError } from "./errors.ts";
import { parseBytes, parseCount, parseCpu } from "./units.ts";

/** One flag of `jobexec start` as given, in command-line order (order matters for the IO flags). */
export interface FlagToken {
  flag: string;
  input: string;
}

const ioRates = {
  "io-read-bps": { field: "readBps", parse: parseBytes },
  "io-write-bps": { field: "writeBps", parse: parseBytes },
  "io-read-iops": { field: "readIops", parse: parseCount },
  "io-write-iops": { field: "writeIops", parse: parseCount },
} as const;

function isIoRate(flag: string): flag is keyof typeof ioRates {
  return flag in ioRates;
}

type IoFields = Pick<IoLimit, "device" | "readBps" | "writeBps" | "readIops" | "writeIops">;

const conditions: Record<string, DependencyCondition> = { ok: DependencyCondition.SUCCEEDED, any: DependencyCondition.ENDED, failed: DependencyCondition.FAILED };

/** `--after ID[:ok|any|failed]`: the job and how it must end (ok, exit 0, by default). */
function dependency(input: string, what: string): { id: string; condition: DependencyCondition } {
  const [id = "", condition = "ok", ...rest] = input.split(":");
  const value = conditions[condition];
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id) || value === undefined || rest.length > 0) {
    throw new CliError("usage", `${what}: "${input}" is not ID[:ok|any|failed] (a job id, then how it must end: ok = exit 0, the default; any = any end; failed = any other end)`);
  }
  return { id, condition: value };
}

/**
 * `--at TIME`: an ISO 8601 date and time (2026-12-08T14:00:00Z, or with an offset), or HH:MM[:SS] in local time, today
 * or, once past, tomorrow. Milliseconds since the epoch.
 */
export function parseAt(input: string, what: string, now: Date = new Date()): number {
  const clock = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(input.trim());
  if (clock !== null) {
    const [h, m, s] = [Number(clock[1]), Number(clock[2]), Number(clock[3] ?? 0)];
    if (h > 23 || m > 59 || s > 59) throw new CliError("usage", `${what}: "${input}" is not a time of day`);
    const at = new Date(now);
    at.setHours(h, m, s, 0);
    if (at.getTime() <= now.getTime()) at.setDate(at.getDate() + 1);
    return at.getTime();
  }
  const ms = /^\d{4}-\d{2}-\d{2}T/.test(input.trim()) ? Date.parse(input.trim()) : Number.NaN;
  if (!Number.isFinite(ms)) throw new CliError("usage", `${what}: "${input}" is not a time: use HH:MM[:SS] (local time) or an ISO 8601 date and time such as 2026-12-08T14:00:00Z`);
  return ms;
}

/**
 * Builds the StartJob request from the flags of `jobexec start`, in order, and the command after `--`.
 * Every value is checked here, so a bad command line fails before anything is sent. Each --io-read-bps,
 * --io-write-bps, --io-read-iops and --io-write-iops applies to the nearest --io-device before it; of --env and
 * --env-file, the last to set a name wins. `environ` gives `--env NAME` its value; `now` is what --at and --delay count from.
 */
export function buildStartRequest(tokens: FlagToken[], command: string[], environ: Record<string, string | undefined> = process.env, now: Date = new Date()): StartJobRequest {
  const [program, ...args] = command;
  if (program === undefined || program === "") {
    throw new CliError("usage", "missing program: put the command after --, e.g. `jobexec start -- echo hello`");
  }
  const request = create(StartJobRequestSchema, { program, args });
  const limits = create(LimitsSchema);
  const isolation = create(IsolationSchema);
  const io: IoFields[] = [];
  for (const { flag, input } of tokens) {
    const what = `--${flag}`;
    switch (flag) {
      case "cpu":
        limits.cpu = parseCpu(input, what);
        break;
      case "cpu-weight": {
        const weight = parseCount(input, what);
        if (weight > 10_000) throw new CliError("usage", `${what}: ${input} is out of range; a CPU weight is 1 to 10000 (default 100)`);
        limits.cpuWeight = weight;
        break;
      }
      case "memory":
        limits.memoryMaxBytes = BigInt(parseBytes(input, what));
        break;
      case "pids":
        limits.pidsMax = BigInt(parseCount(input, what));
        break;
      case "io-device":
        if (input.trim() === "") throw new CliError("usage", `${what}: give a device as MAJ:MIN (e.g. 8:0) or a path (e.g. /dev/sda or /var/lib)`);
        io.push({ device: input.trim() });
        break;
      case "env": {
        const [name, value] = envFromFlag(input, environ);
        request.env[name] = value;
        break;
      }
      case "env-file":
        for (const [name, value] of readEnvFile(input)) request.env[name] = value;
        break;
      case "cwd":
        if (!input.startsWith("/")) throw new CliError("usage", `${what}: "${input}" is not an absolute path (the job runs on the server, relative paths mean nothing there)`);
        request.workingDirectory = input;
        break;
      case "merge-output":
        request.outputMode = OutputMode.MERGED;
        break;
      case "max-output":
        request.maxOutputBytes = BigInt(parseBytes(input, what));
        break;
      case "timeout": {
        const ms = parseDuration(input, what);
        if (ms === 0) throw new CliError("usage", `${what}: give a positive duration, e.g. 10m (leave it out for no timeout)`);
        request.timeout = durationFromMs(ms);
        break;
      }
      case "network":
        if (input !== "none" && input !== "host") throw new CliError("usage", `${what}: "${input}" is not none (a network of the job's own, only lo) or host (the host's, even if the server's default is none)`);
        isolation.privateNetwork = input === "none";
        break;
      case "private-tmp":
        // --no-private-tmp turns off a server default.
        isolation.privateTmp = !input.startsWith("--no-");
        break;
      case "private-tmp-size":
        isolation.privateTmp = true;
        isolation.privateTmpBytes = BigInt(parseBytes(input, what));
        break;
      case "read-only":
        isolation.readOnlySystem = !input.startsWith("--no-");
        break;
      case "after":
        request.startAfter.push(create(DependencySchema, dependency(input, what)));
        break;
      case "at":
      case "delay": {
        if (request.notBefore !== undefined) throw new CliError("usage", "give one of --at and --delay");
        const ms = flag === "at" ? parseAt(input, what, now) : now.getTime() + parseDuration(input, what);
        request.notBefore = timestampFromMs(ms);
        break;
      }
      case "priority": {
        const priority = /^-?\d{1,4}$/.test(input.trim()) ? Number(input) : Number.NaN;
        if (!(Math.abs(priority) <= 1000)) throw new CliError("usage", `${what}: "${input}" is not a whole number from -1000 to 1000`);
        request.priority = priority;
        break;
      }
      case "now":
        request.queuePolicy = QueuePolicy.REFUSE;
        break;
      default:
        if (isIoRate(flag)) {
          const device = io.at(-1);
          if (device === undefined) throw new CliError("usage", `${what} must come after the --io-device it limits, e.g. --io-device 8:0 ${what} ${input}`);
          const rate = ioRates[flag];
          if (device[rate.field] !== undefined) throw new CliError("usage", `${what} is given twice for --io-device ${device.device}`);
          device[rate.field] = BigInt(rate.parse(input, what));
        }
    }
  }
  for (const device of io) {
    if (device.readBps === undefined && device.writeBps === undefined && device.readIops === undefined && device.writeIops === undefined) {
      throw new CliError("usage", `--io-device ${device.device} has no limit; follow it with --io-read-bps, --io-write-bps, --io-read-iops or --io-write-iops`);
    }
    limits.io.push(create(IoLimitSchema, device));
  }
  request.limits = limits;
  // Only what the command line sets: every other field takes the server's default.
  if (Object.values(isolation).some((v) => typeof v === "boolean" || typeof v === "bigint")) request.isolation = isolation;
  return request;
}
