// Whether an account may enter a directory or execute a file, decided from mode bits as the kernel would.
import type { Stats } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";

/** The ids the kernel checks permissions against. */
export interface Credentials {
  uid: number;
  gid: number;
  /** Supplementary groups. */
  groups: readonly number[];
}

// Permission bits of the "other" class; shifted by 3 (group) or 6 (owner).
const SEARCH = 0o1;

/** Whether `who` has `bit` (1 execute/search, 2 write, 4 read) on a file with `stats`, by owner, group, other. */
export function permits(stats: Pick<Stats, "uid" | "gid" | "mode">, who: Credentials, bit: number): boolean {
  if (who.uid === 0) {
    // Root bypasses read, write and search checks, and may execute a file with any execute bit set.
    const directory = (stats.mode & 0o170000) === 0o040000;
    return bit !== SEARCH || directory || (stats.mode & 0o111) !== 0;
  }
  if (stats.uid === who.uid) return ((stats.mode >> 6) & bit) !== 0;
  if (stats.gid === who.gid || who.groups.includes(stats.gid)) return ((stats.mode >> 3) & bit) !== 0;
  return (stats.mode & bit) !== 0;
}

/** `path`'s ancestors from "/" down to its parent. */
function ancestors(path: string): string[] {
  const dirs: string[] = [];
  if (path === "/") return dirs;
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    dirs.unshift(dir);
    if (dir === "/") return dirs;
  }
}

/**
 * The first directory on the way to `path` (absolute) that `who` may not search, or undefined when every one is
 * searchable: those of the path as written (each followed through symlinks) and those of the path it resolves to,
 * which together are the directories the kernel walks; with `entering`, `path` itself too (to chdir into it).
 * POSIX ACLs are not consulted (none are set on the paths a job service uses; the exec itself, as the account,
 * stays the final word).
 */
export async function unsearchableOnTheWay(path: string, who: Credentials, entering = false): Promise<string | undefined> {
  const absolute = resolve(path);
  let real = absolute;
  try {
    real = await realpath(absolute);
  } catch {
    // missing: only what exists is walked
  }
  const dirs = [...new Set([...ancestors(absolute), ...(entering ? [absolute] : []), ...ancestors(real), ...(entering ? [real] : [])])];
  for (const dir of dirs) {
    let stats: Stats;
    try {
      stats = await stat(dir);
    } catch {
      continue;
    }
    if (!permits(stats, who, SEARCH)) return dir;
  }
  return undefined;
}
