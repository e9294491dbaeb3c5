// Per-identity home directories: <data dir>/homes/<name>, 0700, owned by the account the identity's jobs run as.
import { createHash } from "node:crypto";
import { chmod, chown, lstat, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { JobError } from "../job-error.ts";
import type { LogEvent } from "../types.ts";

// Longest encoded name kept as is; longer ones are cut and end in a hash (file names stop at 255 bytes).
const MAX_NAME = 200;

/**
 * The directory name of an identity's home: the identity itself when it is made of letters, digits and `_ @ . -`
 * (not starting with a dot), else with every other byte (and a leading dot) percent-encoded, `%` included. The
 * encoding is one-to-one, so two identities never share a home; a name longer than 200 bytes keeps its first 150
 * and ends in `%%` and a hash of the whole (`%%` never appears in an encoded name otherwise).
 */
export function homeName(identity: string): string {
  let name = "";
  for (const byte of Buffer.from(identity, "utf8")) {
    const char = String.fromCharCode(byte);
    const plain = /[A-Za-z0-9_@.-]/.test(char) && !(char === "." && name === "");
    name += plain ? char : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  if (name.length <= MAX_NAME) return name;
  return `${name.slice(0, 150)}%%${createHash("sha256").update(identity).digest("hex").slice(0, 40)}`;
}

/**
 * Makes `<homesDir>/<name>` a directory owned by uid:gid with mode 0700, creating it on first use. One that an
 * earlier mapping gave to another owner gets the new owner (the directory itself only: files inside keep theirs,
 * since walking a tree its old owner could still change is not safe for root), with a warning.
 */
export async function ensureHome(homesDir: string, name: string, uid: number, gid: number, log: (event: LogEvent) => void): Promise<string> {
  const dir = join(homesDir, name);
  // Looked at first: every start asks, and a mkdir that fails (the home exists) costs an error object each time.
  let stats = await lstat(dir).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  });
  if (stats === undefined) {
    try {
      await mkdir(dir, { mode: 0o700 });
      await chown(dir, uid, gid);
      return dir;
    } catch (err) {
      // Made meanwhile by a concurrent start.
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    stats = await lstat(dir);
  }
  if (!stats.isDirectory()) throw new JobError("internal", `the home directory ${dir} is not a directory`);
  if (stats.uid !== uid || stats.gid !== gid) {
    log({ level: "warn", message: `home directory ${dir} was owned by ${String(stats.uid)}:${String(stats.gid)}; now ${String(uid)}:${String(gid)} (files inside keep their owners)` });
    await chown(dir, uid, gid);
  }
  if ((stats.mode & 0o777) !== 0o700) await chmod(dir, 0o700);
  return dir;
}
