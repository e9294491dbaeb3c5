// One manager per cgroup parent: a second one would kill the first one's jobs as leftovers and remove its sub-tree.
import { createHash } from "node:crypto";
import { lstat, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JobError, toJobError } from "../job-error.ts";
import { acquireLock, type HeldLock, type LockResult } from "../store/lock-file.ts";
import { errnoCode } from "./cgroup-fs.ts";

/**
 * Where cgroup parent locks live, in order of preference: /run/jobexec for root (a tmpfs, emptied at boot like the
 * cgroup hierarchy), else $XDG_RUNTIME_DIR/jobexec; then jobexec-UID in the temporary directory, for hosts whose
 * /run cannot be written (a read-only root, a container). One place for every data directory: the cgroup hierarchy is
 * the machine's.
 */
export function parentLockDirs(env: Record<string, string | undefined> = process.env): string[] {
  const uid = process.getuid?.() ?? 0;
  const first = uid === 0 ? "/run/jobexec" : env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, "jobexec") : undefined;
  return [...(first === undefined ? [] : [first]), join(tmpdir(), `jobexec-${String(uid)}`)];
}

// A place that cannot hold the lock (not writable, read-only, missing): the next one is tried.
const unusable = new Set(["EROFS", "EACCES", "EPERM", "ENOENT", "ENOTDIR"]);

/**
 * Why `dir` may not hold our locks, or undefined when it may: a directory (not a link) of ours, writable by nobody
 * else. The temporary directory is shared: a job that made `jobexec-0` there first could delete our lock (letting a
 * second server onto our cgroup parent) or plant links through which we would write the pid file into any file.
 */
async function notOurs(dir: string): Promise<string | undefined> {
  const stats = await lstat(dir);
  const uid = process.getuid?.() ?? 0;
  if (!stats.isDirectory()) return "is not a directory";
  if (stats.uid !== uid) return `is owned by uid ${String(stats.uid)}, not by us (uid ${String(uid)})`;
  if ((stats.mode & 0o022) !== 0) return `is writable by others (mode ${(stats.mode & 0o777).toString(8).padStart(4, "0")})`;
  return undefined;
}

/**
 * Takes the exclusive lock of the cgroup directory `parentDir` (its full path: the same name under another cgroup is
 * another parent) before anything under it is touched, in the first usable place of `lockDirs`, which must be ours
 * and writable by nobody else (else JobError "failed_precondition" saying so). Held by another process: JobError
 * "failed_precondition" naming its pid. The lock file is named by a digest of the path; the pid file
 * beside it also holds the path.
 */
export async function lockCgroupParent(parentDir: string, lockDirs: string | string[] = parentLockDirs()): Promise<HeldLock> {
  const name = `cgroup-${createHash("sha256").update(parentDir).digest("hex").slice(0, 24)}`;
  let result: LockResult | undefined;
  let lastError: unknown;
  for (const dir of typeof lockDirs === "string" ? [lockDirs] : lockDirs) {
    try {
      await mkdir(dir, { recursive: true, mode: 0o755 });
      const why = await notOurs(dir);
      if (why !== undefined) {
        throw new JobError("failed_precondition", `cannot lock cgroup parent ${parentDir}: the lock directory ${dir} ${why}, so another user may have made it; remove it (it is made again at the next start)`);
      }
      result = acquireLock(join(dir, `${name}.lock`), join(dir, `${name}.pid`), parentDir);
      break;
    } catch (err) {
      lastError = err;
      if (!unusable.has(errnoCode(err) ?? "")) break;
    }
  }
  if (result === undefined) throw toJobError(`cannot lock cgroup parent ${parentDir}`, lastError);
  if ("lock" in result) return result.lock;
  const holder = result.heldBy === undefined ? "another process (pid unknown)" : `another process (pid ${String(result.heldBy)})`;
  throw new JobError(
    "failed_precondition",
    `cgroup parent ${parentDir} is in use by ${holder}: only one jobexec instance may manage a cgroup parent; stop it or choose another cgroup parent`,
  );
}
