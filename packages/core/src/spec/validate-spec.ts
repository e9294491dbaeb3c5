// Validating a JobSpec completely before any state exists: every bad input is a JobError, nothing is created.
import { readFile } from "node:fs/promises";
import { availableParallelism, totalmem } from "node:os";
import { isAbsolute } from "node:path";
import type { Account } from "../accounts/accounts.ts";
import { unsearchableOnTheWay } from "../accounts/path-access.ts";
import { resolveWholeDisk } from "../cgroup/block-device.ts";
import { controllersFor, type ResolvedLimits } from "../cgroup/limits.ts";
import { JobError } from "../job-error.ts";
import { checkHiddenPaths, type IsolationSupport, probeIsolation, resolveIsolation } from "./isolation.ts";
import { statAs, UNREACHABLE } from "./reachable.ts";
import { resolveProgram } from "./resolve-program.ts";
import { checkRunBounds, type RunBounds } from "./run-bounds.ts";
import type { AppliedIoLimit, IoLimit, Isolation, IsolationSpec, JobSpec, OutputMode } from "../types.ts";

/** A spec after validation: the program resolved to a path, the environment complete. */
export interface ValidSpec {
  /** Who the job runs as. */
  account: Account;
  program: string;
  /** The executable that will run: `program` resolved on the job's PATH relative to cwd. */
  executable: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  limits: ResolvedLimits;
  outputMode: OutputMode;
  /** The output limit applied, stdout and stderr together. */
  maxOutputBytes: number;
  /** The timeout applied, if any. */
  timeoutMs?: number;
  /** The namespaces and mounts it runs in. */
  isolation: Isolation;
}

/** What the host offers, against which limits are checked. */
export interface HostCapacity {
  /** Controllers enabled for jobs; undefined when the host has no cgroup v2 (jobs run unconfined). */
  controllers: readonly string[] | undefined;
  cpus: number;
  memoryBytes: number;
  pidMax: number;
  /** Root of sysfs, for resolving IO devices; "/sys" outside tests. */
  sysRoot: string;
  /** The isolation it can give. */
  isolation: IsolationSupport;
}

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The capacity of this host. */
export async function hostCapacity(controllers: readonly string[] | undefined): Promise<HostCapacity> {
  let pidMax = 4_194_304;
  try {
    pidMax = Number((await readFile("/proc/sys/kernel/pid_max", "utf8")).trim());
  } catch {
    // keep the kernel's 64-bit default
  }
  return { controllers, cpus: availableParallelism(), memoryBytes: totalmem(), pidMax, sysRoot: "/sys", isolation: await probeIsolation() };
}

function invalid(message: string): never {
  throw new JobError("invalid_argument", message);
}

function checkString(what: string, value: unknown): string {
  if (typeof value !== "string") invalid(`${what} must be a string`);
  if (value.includes("\0")) invalid(`${what} contains a NUL byte`);
  return value;
}

function checkCount(what: string, value: unknown, max: number, maxWhy: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) invalid(`${what} must be a finite number`);
  if (!Number.isInteger(value)) invalid(`${what} must be a whole number, not ${String(value)}`);
  if (value <= 0) invalid(`${what} must be positive, not ${String(value)}`);
  if (value > max) invalid(`${what} ${String(value)} exceeds ${maxWhy} (${String(max)})`);
  return value;
}

function checkEnv(env: unknown): Record<string, string> {
  if (env === undefined) return {};
  if (typeof env !== "object" || env === null || Array.isArray(env)) invalid("env must be an object of strings");
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name === "") invalid("env name is empty");
    if (name.includes("=")) invalid(`env name ${JSON.stringify(name)} contains "="`);
    checkString(`env name ${JSON.stringify(name)}`, name);
    out[name] = checkString(`env ${name}`, value);
  }
  return out;
}

async function checkIo(io: unknown, sysRoot: string, account: Account): Promise<AppliedIoLimit[] | undefined> {
  if (io === undefined) return undefined;
  if (!Array.isArray(io)) invalid("limits.io must be an array");
  const applied: AppliedIoLimit[] = [];
  for (const entry of io as IoLimit[]) {
    const device = checkString("limits.io device", entry.device);
    if (device === "") invalid("limits.io device is empty");
    const rates = { readBps: entry.readBps, writeBps: entry.writeBps, readIops: entry.readIops, writeIops: entry.writeIops };
    const limit: AppliedIoLimit = { device, resolvedDevice: "" };
    for (const [key, rate] of Object.entries(rates)) {
      if (rate !== undefined) limit[key as keyof typeof rates] = checkCount(`limits.io ${key}`, rate, Number.MAX_SAFE_INTEGER, "the largest safe integer");
    }
    if (Object.values(rates).every((r) => r === undefined)) invalid(`limits.io for ${JSON.stringify(device)} sets no rate`);
    // A path is looked at as the job's account would (reachable.ts); MAJ:MIN names no path.
    if (!/^\d+:\d+$/.test(device) && (await statAs(device, account)) === undefined) {
      invalid(`io device ${JSON.stringify(device)} ${UNREACHABLE} (${account.name}, uid ${String(account.uid)}); name its disk by a device node or MAJ:MIN`);
    }
    limit.resolvedDevice = await resolveWholeDisk(device, sysRoot);
    if (applied.some((a) => a.resolvedDevice === limit.resolvedDevice)) {
      invalid(`limits.io names disk ${limit.resolvedDevice} twice`);
    }
    applied.push(limit);
  }
  return applied;
}

async function checkLimits(limits: JobSpec["limits"], host: HostCapacity, account: Account): Promise<ResolvedLimits> {
  if (limits === undefined) return {};
  if (typeof limits !== "object" || limits === null) invalid("limits must be an object");
  const out: ResolvedLimits = {};
  if (limits.cpu !== undefined) {
    const cpu = limits.cpu;
    if (typeof cpu !== "number" || !Number.isFinite(cpu)) invalid("limits.cpu must be a finite number");
    if (cpu <= 0) invalid(`limits.cpu must be positive, not ${String(cpu)}`);
    if (cpu > host.cpus) invalid(`limits.cpu ${String(cpu)} exceeds the host's ${String(host.cpus)} CPUs`);
    // cpu.max takes a quota of at least 1 ms per 100 ms period.
    if (cpu < 0.01) invalid(`limits.cpu ${String(cpu)} is below the smallest quota, 0.01 CPU`);
    out.cpu = cpu;
  }
  if (limits.cpuWeight !== undefined) out.cpuWeight = checkCount("limits.cpuWeight", limits.cpuWeight, 10_000, "the cpu.weight range 1..10000");
  if (limits.memoryMaxBytes !== undefined) {
    out.memoryMaxBytes = checkCount("limits.memoryMaxBytes", limits.memoryMaxBytes, host.memoryBytes, "the host's memory");
  }
  if (limits.pidsMax !== undefined) out.pidsMax = checkCount("limits.pidsMax", limits.pidsMax, host.pidMax, "the kernel's pid_max");
  const io = await checkIo(limits.io, host.sysRoot, account);
  if (io !== undefined && io.length > 0) out.io = io;
  return out;
}

async function checkCwd(cwd: unknown, account: Account): Promise<string> {
  if (cwd === undefined) return account.home;
  const dir = checkString("cwd", cwd);
  if (!isAbsolute(dir)) invalid(`cwd ${JSON.stringify(dir)} is not an absolute path`);
  const stats = await statAs(dir, account);
  if (stats === undefined) invalid(`cwd ${JSON.stringify(dir)} ${UNREACHABLE} (${account.name}, uid ${String(account.uid)})`);
  if (!stats.isDirectory()) invalid(`cwd ${JSON.stringify(dir)} is not a directory`);
  // Every directory on the way is searchable (statAs): only the directory itself may be closed to the account.
  const blocked = await unsearchableOnTheWay(dir, account, true);
  if (blocked !== undefined) {
    invalid(`cwd ${JSON.stringify(dir)} cannot be entered by the job's account (${account.name}, uid ${String(account.uid)}): ${blocked} is not searchable by it`);
  }
  return dir;
}

// What it takes to get the controllers: a limit the host cannot enforce is refused, and the refusal says how to fix it.
const controllersHint = "to enforce limits the server needs the controllers in its cgroup v2 hierarchy: a pure cgroup v2 host " +
  "(on a hybrid one, boot with systemd.unified_cgroup_hierarchy=1, which takes them from cgroup v1), and under systemd " +
  "a unit with Delegate=yes (see \"Limits the host cannot enforce\" in jobexec's README)";

/**
 * Checks every field of `spec` and resolves what the job will run as `account` (its cwd entered and its program
 * executable by that account); throws JobError "invalid_argument" for bad input and "failed_precondition" for a
 * limit whose controller or isolation the host lacks. `baseEnv` is the minimal environment the spec's env is laid
 * over; `bounds` are the manager's output limit and timeout settings, and its default isolation.
 */
export async function validateSpec(spec: JobSpec, baseEnv: Record<string, string>, host: HostCapacity, account: Account, bounds: RunBounds & { defaultIsolation: IsolationSpec }): Promise<ValidSpec> {
  if (typeof spec !== "object" || spec === null) invalid("the job spec must be an object");
  const program = checkString("program", spec.program);
  if (program === "") invalid("program is empty");
  if (spec.args !== undefined && !Array.isArray(spec.args)) invalid("args must be an array of strings");
  const args = (spec.args ?? []).map((arg, i) => checkString(`args[${String(i)}]`, arg));
  const env = { ...baseEnv, ...checkEnv(spec.env) };
  const outputMode = spec.outputMode ?? "separate";
  if (outputMode !== "separate" && outputMode !== "merged") invalid(`outputMode must be "separate" or "merged"`);
  const run = checkRunBounds(spec, bounds);
  const cwd = await checkCwd(spec.cwd, account);
  const limits = await checkLimits(spec.limits, host, account);
  const needed = controllersFor(limits);
  if (needed.length > 0) {
    if (host.controllers === undefined) {
      throw new JobError("failed_precondition", `limits need cgroup v2, which this host does not have; ${controllersHint}`);
    }
    const missing = needed.filter((c) => !host.controllers?.includes(c));
    if (missing.length > 0) {
      const names = missing.length === 1 ? `controller ${missing[0]} is` : `controllers ${missing.join(", ")} are`;
      throw new JobError("failed_precondition", `the cgroup ${names} not available on this host; ${controllersHint}`);
    }
  }
  const isolation = resolveIsolation(spec.isolation, bounds.defaultIsolation, host.isolation, host.memoryBytes);
  const path = env.PATH ?? defaultPath;
  const executable = await resolveProgram(program, path, cwd, account, path === baseEnv.PATH);
  checkHiddenPaths(isolation, { cwd, cwdGiven: spec.cwd !== undefined, home: account.home, executable });
  return { account, program, executable, args, env, cwd, limits, outputMode, isolation, ...run };
}

/**
 * The minimal base environment of every job: the server's PATH, locale and zone, the account's HOME, USER and
 * LOGNAME (a dynamic account has no passwd entry to look them up in), and the job's id.
 */
export function baseEnvironment(jobId: string, account: Account): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? defaultPath };
  for (const name of ["LANG", "LC_ALL", "TZ"]) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  env.HOME = account.home;
  env.USER = account.name;
  env.LOGNAME = account.name;
  env.JOBEXEC_JOB_ID = jobId;
  return env;
}
