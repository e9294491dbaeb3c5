// What an account leaves behind that outlives its processes, removed: SysV IPC objects, POSIX shared memory and
// message queues. Like systemd's RemoveIPC=, run when an account's last job ended.
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { constants, existsSync } from "node:fs";
import { access, lstat, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { errnoCode } from "../cgroup/cgroup-fs.ts";

const execFileAsync = promisify(execFile);
// A helper that does not answer in this long is killed: a start of the account waits for the removal.
const helperTimeoutMs = 10_000;
const run = (file: string, args: string[]): Promise<{ stdout: string }> => execFileAsync(file, args, { timeout: helperTimeoutMs });

/** Where util-linux's ipcrm and unshare are looked for (Node has no shmctl, msgctl, semctl or unshare). */
export const utilDirs: readonly string[] = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"];

/** The SysV IPC kinds: their /proc/sysvipc file, id column and ipcrm flag. */
const sysvKinds = [
  { file: "/proc/sysvipc/shm", id: "shmid", flag: "-m", what: "shared memory segment" },
  { file: "/proc/sysvipc/msg", id: "msqid", flag: "-q", what: "message queue" },
  { file: "/proc/sysvipc/sem", id: "semid", flag: "-s", what: "semaphore set" },
] as const;

/** What {@link removeIpc} removed, for a log line. */
export interface RemovedIpc {
  /** e.g. "shared memory segment 32769", "/dev/shm/note". */
  removed: string[];
  /** What could not be removed, and why. */
  failed: string[];
}

/**
 * The ids of the SysV IPC objects of one kind that an account in `ids` owns or created (uid, cuid, gid or cgid: a
 * dynamic account's gid is its uid), from the table `text` of /proc/sysvipc/shm, msg or sem.
 */
export function sysvIpcOf(text: string, idColumn: string, ids: ReadonlySet<number>): number[] {
  const [header, ...rows] = text.split("\n");
  const names = (header ?? "").trim().split(/\s+/);
  const at = (name: string): number => names.indexOf(name);
  const [id, ...owners] = [at(idColumn), at("uid"), at("gid"), at("cuid"), at("cgid")];
  if (id === undefined || id < 0 || owners.some((i) => i < 0)) return [];
  const found: number[] = [];
  for (const row of rows) {
    const fields = row.trim().split(/\s+/);
    if (fields.length < names.length) continue;
    if (owners.some((i) => ids.has(Number(fields[i])))) found.push(Number(fields[id]));
  }
  return found;
}

async function findUtil(name: string): Promise<string | undefined> {
  for (const dir of utilDirs) {
    const file = join(dir, name);
    if (await access(file, constants.X_OK).then(() => true, () => false)) return file;
  }
  return undefined;
}

/**
 * Removes every SysV IPC object (shared memory, message queues, semaphores) that an account of `ids` owns or made,
 * and every entry of /dev/shm (POSIX shared memory and named semaphores; a directory with all inside) and POSIX
 * message queue (in /dev/mqueue, or through a mount of its own where it is not mounted) it owns. Only for accounts that no process runs as any more, whose IPC nobody else can be using: a dynamic
 * account after its last job ended. What cannot be removed (no ipcrm) is reported in `failed`, never thrown.
 */
export async function removeIpc(ids: ReadonlySet<number>): Promise<RemovedIpc> {
  const result: RemovedIpc = { removed: [], failed: [] };
  if (ids.size === 0) return result;
  const args: string[] = [];
  for (const kind of sysvKinds) {
    const text = await readFile(kind.file, "utf8").catch(() => "");
    for (const id of sysvIpcOf(text, kind.id, ids)) {
      args.push(kind.flag, String(id));
      result.removed.push(`${kind.what} ${String(id)}`);
    }
  }
  if (args.length > 0) {
    const ipcrm = await findUtil("ipcrm");
    if (ipcrm === undefined) {
      result.failed.push(...result.removed.splice(0).map((what) => `${what}: ipcrm (util-linux) is not in ${utilDirs.join(", ")}`));
    } else {
      try {
        await run(ipcrm, args);
      } catch (err) {
        // One already gone (its last user removed it meanwhile) fails the call; the others were removed.
        result.failed.push(`some of ${result.removed.join(", ")}: ${String((err as { stderr?: string }).stderr ?? err).trim()}`);
      }
    }
  }
  await removeOwned(ids, "/dev/shm", (name) => `/dev/shm/${name}`, result);
  let mqueues: string | undefined = "/dev/mqueue";
  if (!existsSync(mqueues)) {
    mqueues = await mqueueView().catch((err: unknown) => {
      result.failed.push(`POSIX message queues: ${(err as Error).message}`);
      return undefined;
    });
  }
  if (mqueues !== undefined) await removeOwned(ids, mqueues, (name) => `POSIX message queue /${name}`, result);
  return result;
}

/** Removes the entries of `dir` that an account of `ids` owns, named by `what` in `result`. */
async function removeOwned(ids: ReadonlySet<number>, dir: string, what: (name: string) => string, result: RemovedIpc): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    result.failed.push(`${dir}: ${(err as Error).message}`);
    return;
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      const stats = await lstat(path);
      if (!ids.has(stats.uid)) continue;
      // GNU rm walks with openat and O_NOFOLLOW: another account's process swapping a directory inside for a
      // symbolic link cannot make it remove anything elsewhere.
      if (stats.isDirectory()) await run("rm", ["-r", "-f", "--one-file-system", "--", path]);
      else await unlink(path);
      result.removed.push(what(name));
    } catch (err) {
      if (errnoCode(err) !== "ENOENT") result.failed.push(`${what(name)}: ${(err as Error).message}`);
    }
  }
}

/** The helper holding a view of the POSIX message queues (see {@link mqueueView}), made on first use. */
let view: Promise<string> | undefined;

/**
 * Where the POSIX message queues can be listed where /dev/mqueue is not mounted: they exist all the same (in the IPC
 * namespace), and only a mount of the mqueue file system lists them. One is made in a mount namespace of its own, on
 * a tmpfs over that namespace's /run (the host's mounts are left as they were), held by a helper (`unshare`, then
 * `cat` on a pipe of this process: it ends when this process does) and reached through /proc/PID/root. A helper that
 * fails or ends is made again at the next use.
 */
function mqueueView(): Promise<string> {
  view ??= (async () => {
    const unshare = await findUtil("unshare");
    if (unshare === undefined) throw new Error(`/dev/mqueue is not mounted and unshare (util-linux) is not in ${utilDirs.join(", ")}`);
    const script = "mount -t tmpfs tmpfs /run && mkdir /run/mqueue && mount -t mqueue mqueue /run/mqueue && echo ready && exec cat";
    const helper = spawn(unshare, ["--mount", "--propagation", "private", "--", "sh", "-c", script], { stdio: ["pipe", "pipe", "pipe"] });
    const forget = (): void => {
      view = undefined;
    };
    helper.once("exit", forget);
    const timer = setTimeout(() => helper.kill("SIGKILL"), helperTimeoutMs);
    const [ready] = (await Promise.race([once(helper.stdout, "data"), once(helper, "exit").then(() => [""])]).finally(() => clearTimeout(timer))) as [
      Buffer | string,
    ];
    if (String(ready).trim() !== "ready" || helper.pid === undefined) {
      helper.kill("SIGKILL");
      throw new Error("cannot mount an mqueue file system to list POSIX message queues");
    }
    // Nothing of it keeps this process alive.
    helper.unref();
    for (const stream of [helper.stdin, helper.stdout, helper.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
    return `/proc/${String(helper.pid)}/root/run/mqueue`;
  })();
  view.catch(() => (view = undefined));
  return view;
}
