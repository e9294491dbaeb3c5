// An exclusive lock held for the life of the process, through SQLite's POSIX record locks: Node has no flock(2), but
// node:sqlite ships SQLite, whose write lock the kernel releases when the process dies, however it dies.
import { closeSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { errnoCode } from "../cgroup/cgroup-fs.ts";

/** A lock this process holds. */
export interface HeldLock {
  /** The lock file. */
  readonly path: string;
  /** Removes the lock file and the pid file, then releases the lock. Idempotent. */
  release(): void;
}

/** The outcome of {@link acquireLock}: the lock, or the pid of the process holding it (undefined when unknown). */
export type LockResult = { lock: HeldLock } | { heldBy: number | undefined };

// A holder removes its files before releasing (see release()): a waiter that opened the old file can then lock an
// inode nobody else will ever open. Such a lock is detected (the path names another inode or none) and retried.
const attempts = 5;

function inode(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return undefined;
    throw err;
  }
}

/** The pid recorded in `pidPath`, when it holds one. */
export function readPid(pidPath: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(pidPath, "utf8"), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the exclusive lock of `path` (created when missing) without waiting, and records this process's pid in
 * `pidPath` (`note` is written on the line after it, for people reading the file). Two handles of one process
 * exclude each other as well: SQLite tracks its locks per file within a process.
 */
export function acquireLock(path: string, pidPath: string, note = ""): LockResult {
  for (let attempt = 0; attempt < attempts; attempt++) {
    closeSync(openSync(path, "a", 0o644));
    const before = inode(path);
    const db = new DatabaseSync(path, { timeout: 0 });
    try {
      // No journal file: nothing is ever written, only the lock is wanted.
      db.exec("PRAGMA journal_mode = MEMORY; PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE");
    } catch (err) {
      db.close();
      if (/locked|busy/i.test((err as Error).message)) return { heldBy: readPid(pidPath) };
      throw err;
    }
    if (before === undefined || inode(path) !== before) {
      db.close();
      continue;
    }
    const temp = `${pidPath}.${process.pid}`;
    writeFileSync(temp, `${process.pid}\n${note}${note === "" ? "" : "\n"}`, { mode: 0o644 });
    renameSync(temp, pidPath);
    let held = true;
    return {
      lock: {
        path,
        release() {
          if (!held) return;
          held = false;
          for (const file of [pidPath, path]) {
            try {
              unlinkSync(file);
            } catch {
              // Already gone: nothing to remove.
            }
          }
          db.close();
        },
      },
    };
  }
  throw new Error(`${path} keeps being replaced while it is being locked`);
}
