// Resource usage of a job, read from its cgroup.
import { join } from "node:path";
import type { Pressure, Usage } from "../types.ts";
import { readOptional } from "./cgroup-fs.ts";
import { parseFlatKeyed, parsePressure, sumIoStat } from "./file-formats.ts";

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
 * Reads cpu.stat, memory.current, memory.peak, memory.swap.peak, memory.events, io.stat, pids.current, pids.peak
 * and the pressure files of the cgroup `dir`, skipping the files of controllers not in `controllers`. cpu.stat's
 * usage figures and the pressure files exist without any controller; cpu.stat's throttling figures need the cpu
 * controller ("cpu_throttling" in `unavailable` without it). The optional figures are left absent, never 0, where
 * their file is missing.
 */
export async function readUsage(dir: string, controllers: readonly string[]): Promise<Usage> {
  const usage = unmeasuredUsage();
  usage.unavailable = [];
  const has = (c: string): boolean => controllers.includes(c);
  const text = (file: string, controller?: string): Promise<string | undefined> =>
    controller === undefined || has(controller) ? readOptional(join(dir, file)) : Promise.resolve(undefined);
  const number = async (file: string, controller: string): Promise<number | undefined> => {
    const t = await text(file, controller);
    return t === undefined ? undefined : Number(t.trim());
  };
  const [cpuText, memoryCurrent, memoryPeak, swapPeak, eventsText, ioText, pidsCurrent, pidsPeak, pressure] = await Promise.all([
    text("cpu.stat"),
    number("memory.current", "memory"),
    number("memory.peak", "memory"),
    number("memory.swap.peak", "memory"),
    text("memory.events", "memory"),
    text("io.stat", "io"),
    number("pids.current", "pids"),
    number("pids.peak", "pids"),
    readPressures(dir),
  ]);
  const cpu = parseFlatKeyed(cpuText ?? "");
  usage.cpuUsageUsec = cpu.get("usage_usec") ?? 0;
  usage.cpuUserUsec = cpu.get("user_usec") ?? 0;
  usage.cpuSystemUsec = cpu.get("system_usec") ?? 0;
  const throttled = cpu.get("throttled_usec");
  if (cpuText === undefined) usage.unavailable.push("cpu");
  if (throttled === undefined) usage.unavailable.push("cpu_throttling");
  else {
    usage.cpuThrottledUsec = throttled;
    setDefined(usage, "cpuPeriods", cpu.get("nr_periods"));
    setDefined(usage, "cpuThrottledPeriods", cpu.get("nr_throttled"));
  }
  if (memoryCurrent === undefined) usage.unavailable.push("memory");
  else {
    usage.memoryCurrentBytes = memoryCurrent;
    // memory.peak arrived in Linux 5.19; the current figure is the best lower bound before it.
    usage.memoryPeakBytes = memoryPeak ?? memoryCurrent;
  }
  setDefined(usage, "memorySwapPeakBytes", swapPeak);
  if (eventsText !== undefined) {
    const events = parseFlatKeyed(eventsText);
    usage.memoryEvents = { oom: events.get("oom") ?? 0, oomKill: events.get("oom_kill") ?? 0, high: events.get("high") ?? 0, max: events.get("max") ?? 0 };
  }
  if (ioText === undefined) usage.unavailable.push("io");
  else {
    const io = sumIoStat(ioText);
    usage.ioReadBytes = io.readBytes;
    usage.ioWriteBytes = io.writeBytes;
    usage.ioReadOps = io.readOps;
    usage.ioWriteOps = io.writeOps;
  }
  if (pidsCurrent === undefined) usage.unavailable.push("pids");
  else usage.pidsCurrent = pidsCurrent;
  setDefined(usage, "pidsPeak", pidsPeak);
  if (pressure !== undefined) usage.pressure = pressure;
  return usage;
}

/**
 * The usage to keep once a job ended: the live-only figures (current memory and tasks, pressure averages) dropped,
 * the totals kept.
 */
export function finalUsage(live: Usage): Usage {
  const usage: Usage = { ...live, memoryCurrentBytes: 0, pidsCurrent: 0 };
  if (live.pressure !== undefined) {
    usage.pressure = {};
    for (const resource of pressureResources) {
      const p = live.pressure[resource];
      if (p === undefined) continue;
      usage.pressure[resource] = p.fullTotalUsec === undefined ? { someTotalUsec: p.someTotalUsec } : { someTotalUsec: p.someTotalUsec, fullTotalUsec: p.fullTotalUsec };
    }
  }
  return usage;
}

const pressureResources = ["cpu", "memory", "io"] as const;

// A pressure file is missing without PSI, and unreadable (EOPNOTSUPP) where cgroup.pressure turned it off.
async function readPressures(dir: string): Promise<Usage["pressure"]> {
  const found: NonNullable<Usage["pressure"]> = {};
  await Promise.all(
    pressureResources.map(async (resource) => {
      const text = await readOptional(join(dir, `${resource}.pressure`)).catch(() => undefined);
      if (text === undefined) return;
      const { some, full } = parsePressure(text);
      if (some === undefined) return;
      const p: Pressure = { someTotalUsec: some.total, someAvg10: some.avg10, someAvg60: some.avg60 };
      if (full !== undefined) Object.assign(p, { fullTotalUsec: full.total, fullAvg10: full.avg10, fullAvg60: full.avg60 });
      found[resource] = p;
    }),
  );
  return Object.keys(found).length === 0 ? undefined : found;
}

function setDefined<K extends "cpuPeriods" | "cpuThrottledPeriods" | "memorySwapPeakBytes" | "pidsPeak">(usage: Usage, key: K, value: number | undefined): void {
  if (value !== undefined && Number.isFinite(value)) usage[key] = value;
}
