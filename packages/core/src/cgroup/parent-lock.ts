// One manager per cgroup parent: a second one would kill the first one's jobs as leftovers and remove its sub-tree.
import { createHash } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JobError, toJobError } from "../job-error.ts";
import { acquireLock, type HeldLock } from "../store/lock-file.ts";

/**
 * Where cgroup parent locks live: /run/jobexec for root (a tmpfs, emptied at boot like the cgroup hierarchy),
 * else $XDG_RUNTIME_DIR/jobexec, else jobexec-UID in the temporary directory. One directory for every data
 * directory: the cgroup hierarchy is the machine's.
 */
export function parentLockDir(env: Record<string, string | undefined> = process.env): string {
  const uid = process.getuid?.() ?? 0;
  if (uid === 0) return "/run/jobexec";
  return env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, "jobexec") : join(tmpdir(), `jobexec-${String(uid)}`);
}

/**
 * Takes the exclusive lock of the cgroup directory `parentDir` (its full path: the same name under another cgroup is
 * another parent) before anything under it is touched. Held by another process: JobError "failed_precondition"
 * naming its pid. The lock file is named by a digest of the path; the pid file beside it also holds the path.
 */
export async function lockCgroupParent(parentDir: string, lockDir = parentLockDir()): Promise<HeldLock> {
  const name = `cgroup-${createHash("sha256").update(parentDir).digest("hex").slice(0, 24)}`;
  let result;
  try {
    await mkdir(lockDir, { recursive: true, mode: 0o755 });
    result = acquireLock(join(lockDir, `${name}.lock`), join(lockDir, `${name}.pid`), parentDir);
  } catch (err) {
    throw toJobError(`cannot lock cgroup parent ${parentDir} (in ${lockDir})`, err);
  }
  if ("lock" in result) return result.lock;
  const holder = result.heldBy === undefined ? "another process (pid unknown)" : `another process (pid ${String(result.heldBy)})`;
  throw new JobError(
    "failed_precondition",
    `cgroup parent ${parentDir} is in use by ${holder}: only one jobexec instance may manage a cgroup parent; stop it or choose another cgroup parent`,
  );
}
