import { closeSync, constants, openSync, statfsSync, writeSync } from "node:fs";
import { CgexecError, reasonOf } from "./cgexec-error.ts";

// statfs(2) f_type of a cgroup v2 file system (linux/magic.h).
const CGROUP2_SUPER_MAGIC = 0x63677270;

/**
 * Move process `pid` into the cgroup v2 directory `dir` by writing it to `dir/cgroup.procs`.
 * Throws CgexecError 125 when `dir` is missing, is not on a cgroup v2 file system, or the kernel
 * rejects the write (permission, "no internal processes" rule, a cgroup removed meanwhile...).
 */
export function joinCgroup(dir: string, pid: number): void {
  let type: number;
  try {
    type = statfsSync(dir).type;
  } catch (err) {
    throw new CgexecError(125, `cgroup ${dir}: ${reasonOf(err)}`, { cause: err });
  }
  // A plain directory (or a cgroup v1 one) may hold a cgroup.procs too: only the file system type tells.
  if (type !== CGROUP2_SUPER_MAGIC) throw new CgexecError(125, `cgroup ${dir}: not a cgroup v2 directory`);
  let fd: number;
  try {
    // No O_CREAT: never create a stray cgroup.procs file.
    fd = openSync(`${dir}/cgroup.procs`, constants.O_WRONLY);
  } catch (err) {
    throw new CgexecError(125, `cgroup ${dir}: opening cgroup.procs: ${reasonOf(err)}`, { cause: err });
  }
  try {
    writeSync(fd, String(pid));
  } catch (err) {
    throw new CgexecError(125, `cgroup ${dir}: writing cgroup.procs: ${reasonOf(err)}`, { cause: err });
  } finally {
    closeSync(fd);
  }
}
