// Small operations on cgroup v2 directories: reading and writing interface files, killing, waiting, removing.
import { watch, writeFileSync } from "node:fs";
import { readdir, readFile, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseFlatKeyed } from "./file-formats.ts";

/** The error code of a failed system call, if `err` is one. */
export function errnoCode(err: unknown): string | undefined {
  return err instanceof Error && "code" in err && typeof err.code === "string" ? err.code : undefined;
}

/** The text of an interface file, or undefined when the file does not exist (controller not enabled). */
export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return undefined;
    throw err;
  }
}

/** Runs `fn`, retrying while the kernel answers EBUSY, with a short exponential backoff (runc: 10 tries from 1 ms). */
export async function retryBusy<T>(fn: () => Promise<T>, tries = 10): Promise<T> {
  for (let attempt = 1, delay = 1; ; attempt++, delay *= 2) {
    try {
      return await fn();
    } catch (err) {
      if (errnoCode(err) !== "EBUSY" || attempt >= tries) throw err;
      await sleep(delay);
    }
  }
}

/** The pids in a cgroup's cgroup.procs (empty when the cgroup is gone). */
export async function readProcs(dir: string): Promise<number[]> {
  const text = await readOptional(join(dir, "cgroup.procs"));
  return text === undefined ? [] : text.split("\n").filter(Boolean).map(Number);
}

/** Sends `signal` to every process of a cgroup; processes that vanished meanwhile are skipped. */
export async function signalProcs(dir: string, signal: NodeJS.Signals): Promise<void> {
  for (const pid of await readProcs(dir)) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if (errnoCode(err) !== "ESRCH") throw err;
    }
  }
}

/**
 * Kills everything in a cgroup at once through cgroup.kill (Linux 5.14+); where that file is missing or
 * refused, SIGKILL to each of its processes. A cgroup that is gone has nothing to kill. cgroup.kill is written
 * synchronously (one short write to kernfs): the kill never waits behind file reads queued in libuv's thread
 * pool, which matters when a job is killed for writing too much.
 */
export async function killCgroup(dir: string): Promise<void> {
  try {
    writeFileSync(join(dir, "cgroup.kill"), "1");
  } catch {
    await signalProcs(dir, "SIGKILL");
  }
}

/** Whether a cgroup (or one of its descendants) still has processes; false when it is gone. */
export async function isPopulated(dir: string): Promise<boolean> {
  const text = await readOptional(join(dir, "cgroup.events"));
  return text !== undefined && parseFlatKeyed(text).get("populated") === 1;
}

/**
 * Resolves once a cgroup has no process left (`populated 0` in cgroup.events), or as soon as `signal` aborts. The
 * kernel notifies modifications of cgroup.events through inotify, so this watches the file. `recheckMs` (default
 * 500; 0 for none) re-reads it on a timer as a guard against a missed notification while a cgroup is being emptied;
 * a wait that may last days (an adopted job's) relies on the notification alone, so that nothing polls.
 */
export async function waitUnpopulated(dir: string, options: { recheckMs?: number; signal?: AbortSignal } = {}): Promise<void> {
  const { recheckMs = 500, signal } = options;
  if (signal?.aborted || !(await isPopulated(dir))) return;
  const { promise, resolve, reject } = Promise.withResolvers<undefined>();
  let checking = false;
  const check = (): void => {
    if (checking) return;
    checking = true;
    isPopulated(dir).then(
      (populated) => {
        checking = false;
        if (!populated) resolve(undefined);
      },
      (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))),
    );
  };
  const watcher = watch(join(dir, "cgroup.events"), check);
  watcher.on("error", check);
  const timer = recheckMs > 0 ? setInterval(check, recheckMs) : undefined;
  const onAbort = (): void => resolve(undefined);
  signal?.addEventListener("abort", onAbort, { once: true });
  check(); // the cgroup may have emptied between the first read and the watch
  try {
    await promise;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    clearInterval(timer);
    watcher.close();
  }
}

/**
 * Removes an unpopulated cgroup and any child cgroups its processes made (depth first), retrying EBUSY:
 * the kernel releases a cgroup shortly after its last process exits.
 */
export async function removeCgroup(dir: string): Promise<void> {
  try {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) await removeCgroup(join(dir, entry.name));
    }
    await retryBusy(() => rmdir(dir));
  } catch (err) {
    if (errnoCode(err) !== "ENOENT") throw err;
  }
}
