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

/** CPU time (user + system) of a process's children it has waited for, in seconds (cutime + cstime). */
export async function readChildrenCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[13]) + Number(fields[14])) / ticksPerSecond;
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

/** Resident and proportional set size of a process (PSS shares each page among the processes mapping it), in bytes. */
export async function readRssPss(pid: number): Promise<{ rssBytes: number; pssBytes: number }> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, "utf8");
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(rollup)?.[1] ?? Number.NaN) * 1024;
  return { rssBytes: kib("Rss"), pssBytes: kib("Pss") };
}

/** Whether the process's main thread is blocked in read(2) on descriptor `fd` (root only: /proc/PID/syscall). */
export async function blockedReading(pid: number, fd: number): Promise<boolean> {
  try {
    return (await readFile(`/proc/${pid}/syscall`, "utf8")).startsWith(`0 0x${fd.toString(16)} `);
  } catch {
    return false; // gone
  }
}
