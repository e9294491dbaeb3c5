// The host's own accounts and groups, from /etc/passwd and /etc/group (files only: jobexec reads no NSS service).
import { readFile } from "node:fs/promises";
import { join } from "node:path";

/** A local user as /etc/passwd lists it. */
export interface LocalUser {
  name: string;
  uid: number;
  /** Primary group id. */
  gid: number;
}

/** The users and groups of the host at one moment. */
export interface LocalAccounts {
  /** Users by name. */
  users: ReadonlyMap<string, LocalUser>;
  /** Every uid some user has. */
  uids: ReadonlySet<number>;
  /** Every gid some group has. */
  gids: ReadonlySet<number>;
  /** Supplementary group ids of each user (the groups whose member list names them). */
  memberOf: ReadonlyMap<string, readonly number[]>;
}

async function lines(file: string): Promise<string[][]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  return text
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => line.split(":"));
}

const isId = (text: string | undefined): boolean => text !== undefined && /^\d+$/.test(text);

/** Reads `<etc>/passwd` and `<etc>/group`; lines that are not well-formed are skipped as libc skips them. */
export async function readLocalAccounts(etc = "/etc"): Promise<LocalAccounts> {
  const [passwd, group] = await Promise.all([lines(join(etc, "passwd")), lines(join(etc, "group"))]);
  const users = new Map<string, LocalUser>();
  const uids = new Set<number>();
  for (const [name, , uid, gid] of passwd) {
    if (name === undefined || name === "" || !isId(uid) || !isId(gid)) continue;
    uids.add(Number(uid));
    if (!users.has(name)) users.set(name, { name, uid: Number(uid), gid: Number(gid) });
  }
  const gids = new Set<number>();
  const memberOf = new Map<string, number[]>();
  for (const [name, , gid, members] of group) {
    if (name === undefined || !isId(gid)) continue;
    gids.add(Number(gid));
    for (const member of (members ?? "").split(",").filter(Boolean)) {
      const list = memberOf.get(member) ?? [];
      if (!list.includes(Number(gid))) list.push(Number(gid));
      memberOf.set(member, list);
    }
  }
  return { users, uids, gids, memberOf };
}
