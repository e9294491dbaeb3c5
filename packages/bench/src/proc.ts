import { readFile } from "node:fs/promises";

/** Resident memory of a process, from /proc/PID/status. */
export interface Memory {
  /** Peak resident set (VmHWM) in bytes. */
  peakBytes: number;
  /** Current resident set (VmRSS) in bytes. */
  rssBytes: number;
}

/** Reads a process's current and peak resident memory. */
export async function readMemory(pid: number): Promise<Memory> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status);
    return match?.[1] === undefined ? Number.NaN : Number(match[1]) * 1024;
  };
  return { peakBytes: kib("VmHWM"), rssBytes: kib("VmRSS") };
}

// USER_HZ: the unit of utime/stime in /proc/PID/stat is 1/100 s on every Linux architecture Node runs on.
const ticksPerSecond = 100;

/** CPU time (user + system) a process has used so far, in seconds. */
export async function readCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may contain spaces and parentheses: the fields after it start past the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name (state is field 3).
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** Samples a process's resident memory until stopped, keeping the highest value seen. */
export function watchMemory(pid: number, everyMs = 250): { stop(): Promise<Memory> } {
  let highest = 0;
  const sample = async (): Promise<void> => {
    try {
      highest = Math.max(highest, (await readMemory(pid)).rssBytes);
    } catch {
      // The process ended between samples: keep what was seen.
    }
  };
  const timer = setInterval(() => void sample(), everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await sample();
      const last = await readMemory(pid);
      return { peakBytes: last.peakBytes, rssBytes: highest };
    },
  };
}
