// How many files this process may open: the budget client connections must leave room in.
import { readFileSync } from "node:fs";

/**
 * The soft RLIMIT_NOFILE of this process, from /proc/self/limits; undefined when unlimited or unreadable. Node raises
 * its soft limit to the hard limit at start-up (src/node.cc), so this is already as high as the process may go: no
 * prlimit(1) or setrlimit is needed to use it.
 */
export function openFileLimit(limits?: string): number | undefined {
  let text = limits;
  try {
    text ??= readFileSync("/proc/self/limits", "utf8");
  } catch {
    return undefined;
  }
  const soft = /^Max open files\s+(\S+)/m.exec(text)?.[1];
  const n = Number(soft);
  return soft === undefined || !Number.isSafeInteger(n) ? undefined : n;
}
