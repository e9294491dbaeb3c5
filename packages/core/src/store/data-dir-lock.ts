// One manager per data directory: its job records and output files are that manager's alone.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { JobError, toJobError } from "../job-error.ts";
import { acquireLock, type HeldLock } from "./lock-file.ts";

/** The lock file in a data directory, and the file naming its holder's pid. */
export const dataDirLockName = "manager.lock";
export const dataDirPidName = "manager.pid";

/**
 * Takes the data directory's exclusive lock before anything in it is read or changed (the directory is created
 * when missing). Another process holding it is JobError "failed_precondition" naming that process's pid: a second
 * manager on the same directory would delete the first one's output. The kernel releases the lock when the
 * process dies, however it dies; {@link HeldLock.release} releases it earlier.
 */
export async function lockDataDir(dataDir: string): Promise<HeldLock> {
  let result;
  try {
    // 0711 like the rest of the data directory: job accounts pass through it to their homes, never list it.
    await mkdir(dataDir, { recursive: true, mode: 0o711 });
    result = acquireLock(join(dataDir, dataDirLockName), join(dataDir, dataDirPidName));
  } catch (err) {
    throw toJobError(`cannot lock data directory ${dataDir}`, err);
  }
  if ("lock" in result) return result.lock;
  const holder = result.heldBy === undefined ? "another process (pid unknown)" : `another process (pid ${String(result.heldBy)})`;
  throw new JobError(
    "failed_precondition",
    `data directory ${dataDir} is in use by ${holder}: only one jobexec instance may use a data directory; stop it or choose another data directory`,
  );
}
