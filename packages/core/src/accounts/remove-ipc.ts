// What an account leaves behind that outlives its processes, removed: SysV IPC objects, POSIX shared memory and
// message queues. Like systemd's RemoveIPC=, run when an account's last job ended.
import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { access, lstat, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { errnoCode } from "../cgroup/cgroup-fs.ts";

const run = promisify(execFile);

/** Where util-linux's ipcrm is looked for (Node has no shmctl, msgctl or semctl). */
export const ipcrmDirs: readonly string[] = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"];

/** The SysV IPC kinds: their /proc/sysvipc file, id column and ipcrm flag. */
const sysvKinds = [
  { file: "/proc/sysvipc/shm", id: "shmid", flag: "-m", what: "shared memory segment" },
  { file: "/proc/sysvipc/msg", id: "msqid", flag: "-q", what: "message queue" },
  { file: "/proc/sysvipc/sem", id: "semid", flag: "-s", what: "semaphore set" },
] as const;

/** Directories of POSIX IPC: shared memory (shm_open) and, where mounted, message queues (mq_open). */
export const posixIpcDirs: readonly string[] = ["/dev/shm", "/dev/mqueue"];

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

async function findIpcrm(): Promise<string | undefined> {
  for (const dir of ipcrmDirs) {
    const file = join(dir, "ipcrm");
    if (await access(file, constants.X_OK).then(() => true, () => false)) return file;
  }
  return undefined;
}

/**
 * Removes every SysV IPC object (shared memory, message queues, semaphores) that an account of `ids` owns or made,
 * and every entry of /dev/shm and /dev/mqueue (when mounted) it owns (a directory with all inside). Only for accounts that no process runs as any more, whose IPC nobody else can be using: a dynamic
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
    const ipcrm = await findIpcrm();
    if (ipcrm === undefined) {
      result.failed.push(...result.removed.splice(0).map((what) => `${what}: ipcrm (util-linux) is not in ${ipcrmDirs.join(", ")}`));
    } else {
      try {
        await run(ipcrm, args);
      } catch (err) {
        // One already gone (its last user removed it meanwhile) fails the call; the others were removed.
        result.failed.push(`some of ${result.removed.join(", ")}: ${String((err as { stderr?: string }).stderr ?? err).trim()}`);
      }
    }
  }
  for (const dir of posixIpcDirs) {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (errnoCode(err) === "ENOENT") continue; // /dev/mqueue not mounted
      result.failed.push(`${dir}: ${(err as Error).message}`);
      continue;
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
        result.removed.push(path);
      } catch (err) {
        if (errnoCode(err) !== "ENOENT") result.failed.push(`${path}: ${(err as Error).message}`);
      }
    }
  }
  return result;
}
