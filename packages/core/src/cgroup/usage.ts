// Resource usage of a job, read from its cgroup.
import { join } from "node:path";
import type { Usage } from "../types.ts";
import { readOptional } from "./cgroup-fs.ts";
import { parseFlatKeyed, sumIoStat } from "./file-formats.ts";

/** Usage of a job that has no cgroup: nothing measurable. */
export function unmeasuredUsage(): Usage {
  return {
    cpuUsageUsec: 0,
    cpuUserUsec: 0,
    cpuSystemUsec: 0,
    cpuThrottledUsec: 0,
    memoryCurrentBytes: 0,
    memoryPeakBytes: 0,
    ioReadBytes: 0,
    ioWriteBytes: 0,
    pidsCurrent: 0,
    unavailable: ["cpu", "cpu_throttling", "memory", "io", "pids"],
  };
}

/**
 * Reads cpu.stat, memory.current, memory.peak, io.stat and pids.current of the cgroup `dir`, skipping the
 * files of controllers not in `controllers`. cpu.stat's usage figures exist without the cpu controller; its
 * throttling figure does not, and is then listed as "cpu_throttling" in `unavailable`.
 */
export async function readUsage(dir: string, controllers: readonly string[]): Promise<Usage> {
  const usage = unmeasuredUsage();
  usage.unavailable = [];
  const has = (c: string): boolean => controllers.includes(c);
  const number = async (file: string): Promise<number | undefined> => {
    const text = await readOptional(join(dir, file));
    return text === undefined ? undefined : Number(text.trim());
  };
  const [cpuText, memoryCurrent, memoryPeak, ioText, pidsCurrent] = await Promise.all([
    readOptional(join(dir, "cpu.stat")),
    has("memory") ? number("memory.current") : undefined,
    has("memory") ? number("memory.peak") : undefined,
    has("io") ? readOptional(join(dir, "io.stat")) : undefined,
    has("pids") ? number("pids.current") : undefined,
  ]);
  const cpu = parseFlatKeyed(cpuText ?? "");
  usage.cpuUsageUsec = cpu.get("usage_usec") ?? 0;
  usage.cpuUserUsec = cpu.get("user_usec") ?? 0;
  usage.cpuSystemUsec = cpu.get("system_usec") ?? 0;
  const throttled = cpu.get("throttled_usec");
  if (cpuText === undefined) usage.unavailable.push("cpu");
  if (throttled === undefined) usage.unavailable.push("cpu_throttling");
  else usage.cpuThrottledUsec = throttled;
  if (memoryCurrent === undefined) usage.unavailable.push("memory");
  else {
    usage.memoryCurrentBytes = memoryCurrent;
    // memory.peak arrived in Linux 5.19; the current figure is the best lower bound before it.
    usage.memoryPeakBytes = memoryPeak ?? memoryCurrent;
  }
  if (ioText === undefined) usage.unavailable.push("io");
  else {
    const io = sumIoStat(ioText);
    usage.ioReadBytes = io.readBytes;
    usage.ioWriteBytes = io.writeBytes;
  }
  if (pidsCurrent === undefined) usage.unavailable.push("pids");
  else usage.pidsCurrent = pidsCurrent;
  return usage;
}

/** Whether the kernel's OOM killer killed a process of the cgroup (`oom_kill` in memory.events, not `oom`). */
export async function wasOomKilled(dir: string): Promise<boolean> {
  const text = await readOptional(join(dir, "memory.events"));
  return text !== undefined && (parseFlatKeyed(text).get("oom_kill") ?? 0) > 0;
}
