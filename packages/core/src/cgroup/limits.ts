// Writing a job's limits into its cgroup, each read back to prove the kernel kept it.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { JobError } from "../job-error.ts";
import type { AppliedIoLimit, Limits } from "../types.ts";
import { errnoCode } from "./cgroup-fs.ts";
import { formatCpuMax, formatIoMax, parseNestedKeyed } from "./file-formats.ts";

/** Limits after validation, IO devices resolved to whole disks. */
export type ResolvedLimits = Omit<Limits, "io"> & { io?: AppliedIoLimit[] };

/** The controllers a set of limits needs. */
export function controllersFor(limits: ResolvedLimits): string[] {
  const needed = new Set<string>();
  if (limits.cpu !== undefined || limits.cpuWeight !== undefined) needed.add("cpu");
  if (limits.memoryMaxBytes !== undefined) needed.add("memory");
  if (limits.pidsMax !== undefined) needed.add("pids");
  if (limits.io !== undefined && limits.io.length > 0) needed.add("io");
  return [...needed];
}

/** Whether memory.max reading `got` kept a write of `requested`: the kernel rounds down to its page size (<= 64 KiB). */
export function keptMemoryMax(requested: number, got: string): boolean {
  if (!/^\d+$/.test(got)) return false;
  const kept = Number(got);
  return kept <= requested && requested - kept < 65536;
}

async function write(dir: string, file: string, value: string): Promise<string> {
  try {
    await writeFile(join(dir, file), value);
    return (await readFile(join(dir, file), "utf8")).trim();
  } catch (err) {
    throw new JobError("failed_precondition", `the kernel refused ${value} in ${file}: ${String(err)}`, { cause: err });
  }
}

function refuse(file: string, value: string, got: string): never {
  throw new JobError("failed_precondition", `${file} did not keep ${JSON.stringify(value)} (reads ${JSON.stringify(got)})`);
}

async function writeExact(dir: string, file: string, value: string): Promise<void> {
  const got = await write(dir, file, value);
  if (got !== value) refuse(file, value, got);
}

/**
 * Writes `limits` into the cgroup `dir` and reads each file back, throwing JobError when the kernel did not
 * keep a value. memory.max comes back rounded down to a page; memory.swap.max may be absent (no swap accounting).
 */
export async function applyLimits(dir: string, limits: ResolvedLimits): Promise<void> {
  if (limits.cpu !== undefined) await writeExact(dir, "cpu.max", formatCpuMax(limits.cpu));
  if (limits.cpuWeight !== undefined) await writeExact(dir, "cpu.weight", String(limits.cpuWeight));
  if (limits.memoryMaxBytes !== undefined) {
    const value = String(limits.memoryMaxBytes);
    const got = await write(dir, "memory.max", value);
    if (!keptMemoryMax(limits.memoryMaxBytes, got)) refuse("memory.max", value, got);
    try {
      await writeFile(join(dir, "memory.swap.max"), "0");
    } catch (err) {
      if (errnoCode(err) !== "ENOENT") throw new JobError("failed_precondition", `the kernel refused 0 in memory.swap.max`, { cause: err });
    }
    // One OOM kill takes the whole job, not a random process of it.
    await writeExact(dir, "memory.oom.group", "1");
  }
  if (limits.pidsMax !== undefined) await writeExact(dir, "pids.max", String(limits.pidsMax));
  for (const limit of limits.io ?? []) {
    await write(dir, "io.max", formatIoMax(limit.resolvedDevice, limit));
    const keys = parseNestedKeyed(await readFile(join(dir, "io.max"), "utf8")).get(limit.resolvedDevice);
    const expected: [string, number | undefined][] = [
      ["rbps", limit.readBps],
      ["wbps", limit.writeBps],
      ["riops", limit.readIops],
      ["wiops", limit.writeIops],
    ];
    for (const [key, rate] of expected) {
      const got = keys?.get(key) ?? "max";
      if (got !== (rate === undefined ? "max" : String(rate))) refuse("io.max", `${limit.resolvedDevice} ${key}=${String(rate)}`, got);
    }
  }
}
