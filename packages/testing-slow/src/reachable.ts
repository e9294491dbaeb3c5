import { statSync } from "node:fs";
import { dirname } from "node:path";

const othersRead = 0o004;
const othersExec = 0o001;

/**
 * True when an account that is neither the owner nor in the group (a job's unprivileged uid) can reach
 * `path`: every directory above it searchable by others, and the file itself readable (`"read"`, a script
 * or module) or executable (`"exec"`, a binary) by others. `path` must be a real path (no symlinks);
 * ACLs are not looked at.
 */
export function reachableByOthers(path: string, access: "read" | "exec"): boolean {
  try {
    if ((statSync(path).mode & (access === "read" ? othersRead : othersExec)) === 0) return false;
    for (let dir = dirname(path); ; dir = dirname(dir)) {
      if ((statSync(dir).mode & othersExec) === 0) return false;
      if (dir === "/") return true;
    }
  } catch {
    return false;
  }
}
