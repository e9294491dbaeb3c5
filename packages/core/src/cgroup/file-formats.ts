// Formats and parsers of the cgroup v2 interface files jobexec writes and reads.
import type { IoLimit } from "../types.ts";

/** The period written to cpu.max, in microseconds (the kernel's default). */
export const cpuPeriodUsec = 100_000;

/** cpu.max for a bandwidth of `cpus` CPUs: "QUOTA PERIOD". */
export function formatCpuMax(cpus: number): string {
  return `${String(Math.round(cpus * cpuPeriodUsec))} ${String(cpuPeriodUsec)}`;
}

/** One io.max line for `disk` ("MAJ:MIN"); unset rates are written as "max" so a rewrite clears them. */
export function formatIoMax(disk: string, limit: IoLimit): string {
  const rate = (n: number | undefined): string => (n === undefined ? "max" : String(n));
  return `${disk} rbps=${rate(limit.readBps)} wbps=${rate(limit.writeBps)} riops=${rate(limit.readIops)} wiops=${rate(limit.writeIops)}`;
}

/** A flat-keyed file ("key value" lines: cpu.stat, memory.events, cgroup.events) as a map of numbers. */
export function parseFlatKeyed(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined) values.set(key, Number(value));
  }
  return values;
}

/** A nested-keyed file ("MAJ:MIN key=value ..." lines: io.stat, io.max) as a map from device to its keys. */
export function parseNestedKeyed(text: string): Map<string, Map<string, string>> {
  const devices = new Map<string, Map<string, string>>();
  for (const line of text.split("\n")) {
    const [device, ...pairs] = line.trim().split(/\s+/);
    if (!device) continue;
    const keys = new Map<string, string>();
    for (const pair of pairs) {
      const eq = pair.indexOf("=");
      if (eq > 0) keys.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    devices.set(device, keys);
  }
  return devices;
}

/** Bytes and operations read and written over all devices of an io.stat file. */
export function sumIoStat(text: string): { readBytes: number; writeBytes: number; readOps: number; writeOps: number } {
  const sums = { readBytes: 0, writeBytes: 0, readOps: 0, writeOps: 0 };
  for (const keys of parseNestedKeyed(text).values()) {
    sums.readBytes += Number(keys.get("rbytes") ?? 0);
    sums.writeBytes += Number(keys.get("wbytes") ?? 0);
    sums.readOps += Number(keys.get("rios") ?? 0);
    sums.writeOps += Number(keys.get("wios") ?? 0);
  }
  return sums;
}

/**
 * A pressure file (cpu|memory|io.pressure: "some avg10=0.00 avg60=0.00 avg300=0.00 total=123" and a "full" line) as
 * the totals in microseconds and the 10 s and 60 s averages in percent; a line the file lacks is absent.
 */
export function parsePressure(text: string): Partial<Record<"some" | "full", { total: number; avg10: number; avg60: number }>> {
  const lines: Partial<Record<"some" | "full", { total: number; avg10: number; avg60: number }>> = {};
  for (const [kind, keys] of parseNestedKeyed(text)) {
    if (kind !== "some" && kind !== "full") continue;
    lines[kind] = { total: Number(keys.get("total") ?? 0), avg10: Number(keys.get("avg10") ?? 0), avg60: Number(keys.get("avg60") ?? 0) };
  }
  return lines;
}

/** The cgroup path of the unified hierarchy (the `0::` line) in a /proc/PID/cgroup file. */
export function parseProcCgroup(text: string): string | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("0::")) return line.slice(3);
  }
  return undefined;
}

/** The mount point of the first cgroup2 filesystem in a /proc/PID/mountinfo file. */
export function parseCgroup2Mount(text: string): string | undefined {
  for (const line of text.split("\n")) {
    // Fields: id parent maj:min root mountpoint options [optional...] - fstype source superoptions
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const fsType = line.slice(sep + 3).split(" ")[0];
    const mountPoint = line.slice(0, sep).split(" ")[4];
    if (fsType === "cgroup2" && mountPoint) return unescapeMountinfo(mountPoint);
  }
  return undefined;
}

// mountinfo escapes space, tab, newline and backslash as octal (\040 ...).
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
