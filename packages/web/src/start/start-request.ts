// The start form's fields turned into a StartJobRequest: sizes (512M, 2GiB), durations (90s, 1h30m), one argument
// or variable a line. Every field that does not parse names itself; the server checks the rest and its answer is
// shown as it phrased it.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { DependencyCondition, OutputMode, QueuePolicy, type StartJobRequestSchema } from "@jobexec/proto";

/** The form's fields, as typed. */
export interface StartFields {
  program: string;
  /** One argument a line. */
  args: string;
  /** One NAME=VALUE a line. */
  env: string;
  directory: string;
  cpu: string;
  memory: string;
  pids: string;
  timeout: string;
  maxOutput: string;
  mergeOutput: boolean;
  /** "default", "on" or "off" each. */
  privateNetwork: string;
  privateTmp: string;
  readOnlySystem: string;
  priority: string;
  refuseIfFull: boolean;
  /** Job ids to wait for, one a line or separated by spaces, each optionally :ok, :any or :failed. */
  after: string;
  /** A datetime-local value. */
  notBefore: string;
}

export const emptyFields: StartFields = {
  program: "", args: "", env: "", directory: "", cpu: "", memory: "", pids: "", timeout: "", maxOutput: "", mergeOutput: false,
  privateNetwork: "default", privateTmp: "default", readOnlySystem: "default", priority: "", refuseIfFull: false, after: "", notBefore: "",
};

/** The request, or the first field that does not parse and why. */
export type Parsed = { request: MessageInitShape<typeof StartJobRequestSchema> } | { field: keyof StartFields; error: string };

const sizeUnits: Record<string, number> = { "": 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1000 ** 4, tib: 1024 ** 4 };

/** A size such as 512M, 2GiB, 1.5G or 1000 (bytes); undefined when it is not one. */
export function parseSize(text: string): bigint | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = sizeUnits[match?.[2]?.toLowerCase() ?? "x"];
  if (match === null || unit === undefined) return undefined;
  const bytes = Math.round(Number(match[1]) * unit);
  return bytes > 0 && Number.isSafeInteger(bytes) ? BigInt(bytes) : undefined;
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration such as 90s, 1h30m or 500ms, in milliseconds; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(\d+(?:\.\d+)?(ms|s|m|h|d))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const [, value, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(value) * (durationUnits[unit as string] as number);
  return total > 0 ? Math.round(total) : undefined;
}

function lines(text: string): string[] {
  return text.split("\n").map((line) => line.replace(/\r$/, "")).filter((line, i, all) => line !== "" || i < all.length - 1);
}

function tri(value: string): boolean | undefined {
  return value === "on" ? true : value === "off" ? false : undefined;
}

const conditions: Record<string, DependencyCondition> = { ok: DependencyCondition.SUCCEEDED, any: DependencyCondition.ENDED, failed: DependencyCondition.FAILED };

/** Parses the form. */
export function parseStartFields(fields: StartFields): Parsed {
  const program = fields.program.trim();
  if (program === "") return { field: "program", error: "a program to run is required" };
  const env: Record<string, string> = {};
  for (const line of lines(fields.env)) {
    if (line.trim() === "") continue;
    const eq = line.indexOf("=");
    if (eq <= 0) return { field: "env", error: `"${line}" is not NAME=VALUE` };
    env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  const limits: MessageInitShape<typeof StartJobRequestSchema>["limits"] = {};
  if (fields.cpu.trim() !== "") {
    const cpu = Number(fields.cpu);
    if (!(cpu > 0)) return { field: "cpu", error: "CPUs must be a number above 0, e.g. 0.5 or 2" };
    limits.cpu = cpu;
  }
  if (fields.memory.trim() !== "") {
    const memory = parseSize(fields.memory);
    if (memory === undefined) return { field: "memory", error: "memory must be a size, e.g. 512M or 2G" };
    limits.memoryMaxBytes = memory;
  }
  if (fields.pids.trim() !== "") {
    if (!/^[1-9]\d*$/.test(fields.pids.trim())) return { field: "pids", error: "tasks must be a whole number above 0" };
    limits.pidsMax = BigInt(fields.pids.trim());
  }
  const request: MessageInitShape<typeof StartJobRequestSchema> = { program, args: lines(fields.args), env, workingDirectory: fields.directory.trim(), limits };
  if (fields.timeout.trim() !== "") {
    const ms = parseDuration(fields.timeout);
    if (ms === undefined) return { field: "timeout", error: "the timeout must be a duration, e.g. 90s or 1h30m" };
    request.timeout = { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
  }
  if (fields.maxOutput.trim() !== "") {
    const bytes = parseSize(fields.maxOutput);
    if (bytes === undefined) return { field: "maxOutput", error: "the output cap must be a size, e.g. 100M" };
    request.maxOutputBytes = bytes;
  }
  if (fields.mergeOutput) request.outputMode = OutputMode.MERGED;
  request.isolation = { privateNetwork: tri(fields.privateNetwork), privateTmp: tri(fields.privateTmp), readOnlySystem: tri(fields.readOnlySystem) };
  if (fields.priority.trim() !== "") {
    if (!/^-?\d+$/.test(fields.priority.trim())) return { field: "priority", error: "the priority must be a whole number from -1000 to 1000" };
    request.priority = Number(fields.priority.trim());
  }
  request.queuePolicy = fields.refuseIfFull ? QueuePolicy.REFUSE : QueuePolicy.QUEUE;
  const after = fields.after.split(/\s+/).filter((word) => word !== "");
  request.startAfter = [];
  for (const word of after) {
    const [id, condition = "ok"] = word.split(":");
    if (conditions[condition] === undefined) return { field: "after", error: `"${word}": the condition after the id is :ok, :any or :failed` };
    request.startAfter.push({ id, condition: conditions[condition] });
  }
  if (fields.notBefore !== "") {
    const ms = new Date(fields.notBefore).getTime();
    if (Number.isNaN(ms)) return { field: "notBefore", error: "not a date and time" };
    request.notBefore = { seconds: BigInt(Math.floor(ms / 1000)), nanos: 0 };
  }
  return { request };
}
