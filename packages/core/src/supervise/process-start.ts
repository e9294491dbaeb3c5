// A process's identity beyond its pid: its start time, which a recycled pid does not share.
import { readFileSync } from "node:fs";

/**
 * The start time of process `pid` in clock ticks since boot (field 22 of `/proc/PID/stat`); undefined when there is
 * no such process or it is a zombie (it runs nothing any more). A pid and its start time name one process for good.
 */
export function processStartTicks(pid: number, proc = "/proc"): number | undefined {
  if (!(Number.isSafeInteger(pid) && pid > 0)) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`${proc}/${String(pid)}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // Field 2, the command name, is in parentheses and may itself hold spaces and ")": fields 3... follow the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z" || fields[0] === "X") return undefined;
  const ticks = Number(fields[19]);
  return Number.isSafeInteger(ticks) ? ticks : undefined;
}
