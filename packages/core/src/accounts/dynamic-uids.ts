// Dynamic accounts: one uid (and the gid of the same number) per identity, from a range, kept across restarts.
import { readFile } from "node:fs/promises";
import { JobError } from "../job-error.ts";
import type { LogEvent, UidRange } from "../types.ts";
import { writeFileAtomically } from "./atomic-file.ts";
import { type LocalAccounts, readLocalAccounts } from "./local-accounts.ts";
import { UidClaims } from "./uid-claims.ts";
import { uidLeftover } from "./uid-leftovers.ts";
import { formatUidRange } from "./uid-range.ts";

/** The file's shape: version 1, each identity's uid. */
interface Stored {
  version: 1;
  uids: Record<string, number>;
}

/**
 * The identity -> uid mapping of dynamic mode, persisted in one JSON file (replaced atomically on every change).
 * A uid is never given to two identities, and never one that a local account or group owns (the gid is the same
 * number): /etc/passwd and /etc/group are read again before each allocation, so accounts created meanwhile are
 * skipped too. Nor is it one that another manager on this host gave out (another server with another data
 * directory): every uid is claimed host-wide first ({@link UidClaims}). Nor, when an identity gets its first uid, is it
 * one that anything is left of (a process, a file in /tmp, /var/tmp, /dev/shm...; see {@link uidLeftover}): a uid that
 * an earlier identity had (its manager's data directory since removed, its mapping given up) never hands what that
 * identity left to another.
 */
export class DynamicUids {
  readonly #file: string;
  readonly #range: UidRange;
  readonly #uids: Map<string, number>;
  readonly #taken: Set<number>;
  readonly #claims: UidClaims;
  readonly #leftover: (uid: number) => Promise<string | undefined>;
  readonly #log: (event: LogEvent) => void;
  // Allocations write the file one at a time.
  #writing: Promise<unknown> = Promise.resolve();

  private constructor(
    file: string,
    range: UidRange,
    uids: Map<string, number>,
    claims: UidClaims,
    leftover: (uid: number) => Promise<string | undefined>,
    log: (event: LogEvent) => void,
  ) {
    this.#file = file;
    this.#range = range;
    this.#uids = uids;
    this.#taken = new Set(uids.values());
    this.#claims = claims;
    this.#leftover = leftover;
    this.#log = log;
  }

  /**
   * Loads the mapping from `file` (none yet is an empty mapping) and claims its uids host-wide (again, after a
   * reboot). A uid outside `range`, owned by a local account or group, given twice, or claimed by another manager
   * meanwhile, is given up with a warning: that identity gets a new uid on its next job. A file that cannot be
   * read or parsed is JobError "failed_precondition". `claims` defaults to this host's claims for `file`, `leftover`
   * to {@link uidLeftover}.
   */
  static async load(
    file: string,
    range: UidRange,
    local: LocalAccounts,
    log: (event: LogEvent) => void,
    claims = new UidClaims(file),
    leftover = uidLeftover,
  ): Promise<DynamicUids> {
    let text: string | undefined;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        throw new JobError("failed_precondition", `cannot read the dynamic accounts file ${file}: ${(err as Error).message}`, { cause: err });
      }
    }
    const uids = new Map<string, number>();
    if (text !== undefined) {
      const stored = parse(text, file);
      const used = new Set<number>();
      for (const [identity, uid] of Object.entries(stored.uids)) {
        const why =
          uid < range.first || uid > range.last
            ? `outside the uid range ${formatUidRange(range)}`
            : local.uids.has(uid) || local.gids.has(uid)
              ? "owned by a local account or group"
              : used.has(uid)
                ? "given to another identity too"
                : !(await claims.claim(uid, identity))
                  ? "claimed by another jobexec server on this host"
                  : undefined;
        if (why !== undefined) {
          log({ level: "warn", message: `dynamic account of ${JSON.stringify(identity)}: uid ${String(uid)} is ${why}; it gets a new uid on its next job` });
          continue;
        }
        used.add(uid);
        uids.set(identity, uid);
      }
    }
    return new DynamicUids(file, range, uids, claims, leftover, log);
  }

  /** The uid `identity` has, if it has one yet. */
  known(identity: string): number | undefined {
    return this.#uids.get(identity);
  }

  /** Every identity's uid. */
  all(): ReadonlyMap<string, number> {
    return this.#uids;
  }

  /** The uid of `identity`, allocating (and persisting) one on its first use. JobError "resource_exhausted" when the range is used up. */
  async uidOf(identity: string): Promise<number> {
    const known = this.#uids.get(identity);
    if (known !== undefined) return known;
    const allocation = this.#writing.then(async () => {
      const again = this.#uids.get(identity);
      if (again !== undefined) return again;
      const local = await readLocalAccounts();
      let uid = this.#range.first;
      for (; uid <= this.#range.last; uid++) {
        if (this.#taken.has(uid) || local.uids.has(uid) || local.gids.has(uid)) continue;
        // Claimed first: a uid another manager holds is simply skipped, without looking for what is left of it.
        if (!(await this.#claims.claim(uid, identity))) continue;
        const left = await this.#leftover(uid);
        if (left === undefined) break;
        this.#log({ level: "warn", message: `uid ${String(uid)} is not given to ${JSON.stringify(identity)}: something of an earlier owner is left (${left})` });
        await this.#claims.release(uid, identity);
      }
      if (uid > this.#range.last) {
        throw new JobError("resource_exhausted", `no uid is left in the range ${formatUidRange(this.#range)} for a new identity's account`);
      }
      const uids = Object.fromEntries([...this.#uids, [identity, uid]]);
      await writeFileAtomically(this.#file, `${JSON.stringify({ version: 1, uids } satisfies Stored, null, 2)}\n`);
      this.#uids.set(identity, uid);
      this.#taken.add(uid);
      return uid;
    });
    this.#writing = allocation.catch(() => undefined);
    return allocation;
  }
}

function parse(text: string, file: string): Stored {
  const corrupt = (why: string): never => {
    throw new JobError("failed_precondition", `the dynamic accounts file ${file} is corrupt (${why}): restore it, or remove it to give every identity a new uid`);
  };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return corrupt((err as Error).message);
  }
  if (typeof value !== "object" || value === null || (value as Stored).version !== 1) return corrupt("not a version 1 mapping");
  const { uids } = value as Stored;
  if (typeof uids !== "object" || uids === null) return corrupt("no uids");
  for (const uid of Object.values(uids)) if (!Number.isSafeInteger(uid)) corrupt(`uid ${JSON.stringify(uid)} is not a number`);
  return value as Stored;
}
