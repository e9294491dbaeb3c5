// Whether anything of a uid is left on the host: checked before a dynamic uid goes to an identity that never had it.
import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { removeIpc } from "./remove-ipc.ts";

const run = promisify(execFile);
// A scan of a very large /tmp is cut short after this long (what it found so far counts).
const findTimeoutMs = 60_000;

/** World-writable places where an account's files outlive its processes (POSIX IPC in /dev/shm, /dev/mqueue too). */
export const sharedDirs: readonly string[] = ["/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", "/run/lock"];

/** A process running as `uid` (real, effective, saved or file-system uid), by pid. */
async function processOf(uid: number): Promise<string | undefined> {
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
    const uids = /^Uid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/).map(Number) ?? [];
    if (uids.includes(uid)) return pid;
  }
  return undefined;
}

/** A file or directory that `uid` (or its gid, the same number) owns under `dir`, on `dir`'s own file system. */
async function fileOf(uid: number, dir: string): Promise<string | undefined> {
  const id = String(uid);
  // find(1) stops at the first; it exits non-zero on a missing directory or an unreadable entry, which is no finding.
  const found = await run("find", [dir, "-xdev", "(", "-uid", id, "-o", "-gid", id, ")", "-print", "-quit"], { timeout: findTimeoutMs }).then(
    (r) => r.stdout,
    (err: { stdout?: string }) => err.stdout ?? "",
  );
  return found.split("\n")[0] || undefined;
}

/**
 * What keeps `uid` from going to a new identity: a process running as it, or a file it (or its gid) owns in a
 * world-writable place ({@link sharedDirs}), named in a phrase; undefined when nothing of it is left. Its SysV IPC
 * objects and POSIX IPC, which nobody may use once no process runs as it, are removed on the way.
 */
export async function uidLeftover(uid: number): Promise<string | undefined> {
  const pid = await processOf(uid);
  if (pid !== undefined) return `process ${pid} runs as it`;
  await removeIpc(new Set([uid]));
  for (const dir of sharedDirs) {
    const file = await fileOf(uid, dir);
    if (file !== undefined) return `it owns ${file}`;
  }
  return undefined;
}
