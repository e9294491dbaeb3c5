// The user map of "mapped" mode: which local account each identity's jobs run as.
import { JobError } from "../job-error.ts";
import type { LocalAccounts } from "./local-accounts.ts";

/** One line of a user map, its account resolved. */
export interface UserMapRule {
  /** The identity, or a pattern in which `*` stands for any run of characters. */
  pattern: string;
  /** The local account's name. */
  account: string;
  uid: number;
  gid: number;
  /** The account's groups: its primary group and those listing it as a member, as initgroups(3) sets them. */
  groups: number[];
  /** Where the rule is, "FILE:LINE", for messages. */
  where: string;
}

/** A parsed user map: exact names first, then patterns in file order. */
export interface UserMap {
  exact: ReadonlyMap<string, UserMapRule>;
  patterns: readonly (UserMapRule & { regexp: RegExp })[];
  /** Rules that map to uid 0 (marked with "!"), for the start-up warning. */
  root: readonly UserMapRule[];
}

function invalid(message: string): never {
  throw new JobError("invalid_argument", message);
}

const globToRegExp = (pattern: string): RegExp =>
  new RegExp(`^${pattern.split("*").map((part) => part.replace(/[\\^$.+?()[\]{}|/]/g, "\\$&")).join(".*")}$`, "s");

/**
 * Parses a user map: one `IDENTITY: ACCOUNT` per line, `#` starting a comment line, blank lines ignored. IDENTITY
 * is an exact name or a pattern with `*` (any run of characters, e.g. `ci-*`); ACCOUNT is a local account from
 * /etc/passwd. An account whose uid is 0 must be written with a `!` after it (`admin: root!`). Throws JobError
 * "invalid_argument" naming the file and line for anything else.
 */
export function parseUserMap(text: string, file: string, local: LocalAccounts): UserMap {
  const exact = new Map<string, UserMapRule>();
  const patterns: (UserMapRule & { regexp: RegExp })[] = [];
  const root: UserMapRule[] = [];
  const seen = new Set<string>();
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const where = `${file}:${String(index + 1)}`;
    const colon = line.lastIndexOf(":");
    if (colon < 0) invalid(`user map ${where}: ${JSON.stringify(line)} is not "IDENTITY: ACCOUNT"`);
    const pattern = line.slice(0, colon).trim();
    let account = line.slice(colon + 1).trim();
    if (pattern === "" || account === "") invalid(`user map ${where}: ${JSON.stringify(line)} is not "IDENTITY: ACCOUNT"`);
    if (seen.has(pattern)) invalid(`user map ${where}: ${JSON.stringify(pattern)} is mapped twice`);
    seen.add(pattern);
    const allowRoot = account.endsWith("!");
    if (allowRoot) account = account.slice(0, -1);
    const user = local.users.get(account);
    if (user === undefined) invalid(`user map ${where}: there is no local account ${JSON.stringify(account)} (in /etc/passwd)`);
    if (user.uid === 0 && !allowRoot) {
      invalid(`user map ${where}: account ${JSON.stringify(account)} is uid 0; write "${account}!" to let jobs run as root`);
    }
    if (user.uid !== 0 && allowRoot) invalid(`user map ${where}: "!" marks an account with uid 0, and ${JSON.stringify(account)} is uid ${String(user.uid)}`);
    const groups = [user.gid, ...(local.memberOf.get(account) ?? []).filter((g) => g !== user.gid)];
    const rule: UserMapRule = { pattern, account, uid: user.uid, gid: user.gid, groups, where };
    if (user.uid === 0) root.push(rule);
    if (pattern.includes("*")) patterns.push({ ...rule, regexp: globToRegExp(pattern) });
    else exact.set(pattern, rule);
  });
  return { exact, patterns, root };
}

/** The rule for `identity`: its exact line, else the first pattern that matches; undefined when none does. */
export function matchUserMap(map: UserMap, identity: string): UserMapRule | undefined {
  return map.exact.get(identity) ?? map.patterns.find((rule) => rule.regexp.test(identity));
}
