// Which account each identity's jobs run as, its home, and how many jobs each identity runs: the accounts' state.
import { chmod, mkdir, readFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { join } from "node:path";
import { JobError } from "../job-error.ts";
import type { AccountOptions, LogEvent, RunAs } from "../types.ts";
import { checkReachableByJobs } from "./data-dir.ts";
import { DynamicUids } from "./dynamic-uids.ts";
import { ensureHome, homeName } from "./homes.ts";
import { readLocalAccounts } from "./local-accounts.ts";
import { removeIpc } from "./remove-ipc.ts";
import type { Credentials } from "./path-access.ts";
import { checkUidRange, DEFAULT_UID_RANGE, formatUidRange } from "./uid-range.ts";
import { matchUserMap, type UserMap, parseUserMap } from "./user-map.ts";

/** The account a job runs as. */
export interface Account extends Credentials {
  /** Job.account, and the job's USER and LOGNAME: the identity (dynamic), the local account (mapped), the server's user. */
  name: string;
  /** The job's HOME and default working directory. */
  home: string;
  /** Whether cgexec switches to it: false when jobs run as the server's own user. */
  drop: boolean;
}

/** A cap on an identity's running jobs, passed by whoever knows who may run how many. */
export interface Quota {
  maxRunning: number;
  /** How the limit is named in the refusal, e.g. "--max-jobs-per-user"; default none. */
  name?: string;
}

/** A running-job slot of one identity, held from the start of StartJob until the job ended. */
export interface Slot {
  /** Gives the slot back; later calls do nothing. */
  release(): void;
}

const runAsModes: readonly RunAs[] = ["dynamic", "mapped", "server"];

/**
 * The identity -> account resolution of one manager: `dynamic` gives each identity a uid of its own from a range
 * (kept in `<dataDir>/accounts.json`), `mapped` uses the local account a user map names, `server` runs every job as
 * the server's own user. Every identity has a home `<dataDir>/homes/<name>` owned by its account. It also counts
 * each identity's running jobs against the quota it is given. When a dynamic account's last job ended, what its
 * processes left that outlives them is removed: SysV IPC objects, POSIX shared memory, semaphores and message
 * queues (systemd's RemoveIPC=; see {@link removeIpc}); the identity's next job starts once that is done.
 */
export class Accounts {
  readonly runAs: RunAs;
  readonly #homesDir: string;
  readonly #map: UserMap | undefined;
  readonly #uids: DynamicUids | undefined;
  readonly #log: (event: LogEvent) => void;
  readonly #running = new Map<string, number>();
  /** Removals of what identities' last jobs left (see #afterLastJob); a start of the same identity waits for its own. */
  readonly #cleaning = new Map<string, Promise<void>>();

  private constructor(runAs: RunAs, homesDir: string, map: UserMap | undefined, uids: DynamicUids | undefined, log: (event: LogEvent) => void) {
    this.runAs = runAs;
    this.#homesDir = homesDir;
    this.#map = map;
    this.#uids = uids;
    this.#log = log;
  }

  /**
   * Checks the options and the host (root and setpriv for dynamic and mapped, the data directory reachable by
   * jobs), reads the user map or the dynamic mapping, creates `<dataDir>/homes`, and logs what deserves a warning
   * (server mode, uid-0 map lines). Bad options are JobError "invalid_argument" with one sentence.
   */
  static async open(dataDir: string, options: AccountOptions, log: (event: LogEvent) => void): Promise<Accounts> {
    const runAs = options.runAs ?? "dynamic";
    if (!runAsModes.includes(runAs)) throw new JobError("invalid_argument", `run-as ${JSON.stringify(runAs)} is not one of ${runAsModes.join(", ")}`);
    if (options.userMapFile !== undefined && runAs !== "mapped") throw new JobError("invalid_argument", "a user map is only read in run-as mapped");
    if (options.uidRange !== undefined && runAs !== "dynamic") throw new JobError("invalid_argument", "a uid range only applies to run-as dynamic");
    const range = checkUidRange(options.uidRange ?? DEFAULT_UID_RANGE);
    const homesDir = join(dataDir, "homes");
    if (runAs === "server") {
      await prepareHomes(homesDir);
      log({ level: "warn", message: `jobs run as the server's own user (run-as server, uid ${String(process.getuid?.())}): they can do whatever it can` });
      return new Accounts(runAs, homesDir, undefined, undefined, log);
    }
    if (process.geteuid?.() !== 0) throw new JobError("invalid_argument", `run-as ${runAs} needs root, which switches each job to its account; use run-as server otherwise`);
    await prepareHomes(homesDir);
    await checkReachableByJobs(dataDir);
    const local = await readLocalAccounts();
    if (runAs === "mapped") {
      const file = options.userMapFile;
      if (file === undefined) throw new JobError("invalid_argument", "run-as mapped needs a user map file");
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (err) {
        throw new JobError("invalid_argument", `cannot read the user map ${file}: ${(err as Error).message}`, { cause: err });
      }
      const map = parseUserMap(text, file, local);
      for (const rule of map.root) {
        log({ level: "warn", message: `user map ${rule.where}: jobs of ${JSON.stringify(rule.pattern)} run as ${rule.account}, uid 0: they can do whatever root can` });
      }
      return new Accounts(runAs, homesDir, map, undefined, log);
    }
    const uids = await DynamicUids.load(join(dataDir, "accounts.json"), range, local, log);
    log({ level: "info", message: `jobs run as dynamic accounts, uids ${formatUidRange(range)}` });
    return new Accounts(runAs, homesDir, undefined, uids, log);
  }

  /**
   * Takes one of `identity`'s running-job slots, synchronously so that concurrent starts cannot overshoot. JobError
   * "permission_denied" when the identity has no account (mapped mode, not in the map), "resource_exhausted" when
   * it already holds `quota.maxRunning` slots.
   */
  reserve(identity: string, quota: Quota | undefined): Slot {
    if (this.#map !== undefined && matchUserMap(this.#map, identity) === undefined) {
      throw new JobError("permission_denied", `${JSON.stringify(identity)} has no account to run jobs as: the user map names no account for it`);
    }
    if (quota !== undefined && !(Number.isSafeInteger(quota.maxRunning) && quota.maxRunning > 0)) {
      throw new JobError("invalid_argument", "quota.maxRunning must be a positive whole number");
    }
    const running = this.#running.get(identity) ?? 0;
    if (quota !== undefined && running >= quota.maxRunning) {
      const name = quota.name === undefined ? "" : ` (${quota.name})`;
      throw new JobError(
        "resource_exhausted",
        `${identity} already has ${String(running)} running jobs, the limit of ${String(quota.maxRunning)} running jobs per identity${name}: stop one or wait for one to end`,
      );
    }
    this.#running.set(identity, running + 1);
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        const left = (this.#running.get(identity) ?? 1) - 1;
        if (left > 0) {
          this.#running.set(identity, left);
          return;
        }
        this.#running.delete(identity);
        this.#afterLastJob(identity);
      },
    };
  }

  /**
   * Removes the IPC objects of `identity`'s dynamic account, whose last job just ended (no process runs as it: its
   * cgroup was emptied). Mapped accounts are local users with sessions of their own: their IPC is not ours to remove.
   */
  #afterLastJob(identity: string): void {
    const uid = this.#uids?.known(identity);
    if (uid === undefined) return;
    const before = this.#cleaning.get(identity) ?? Promise.resolve();
    const cleaning = before.then(() => this.#removeIpc(new Set([uid]), `the jobs of uid ${String(uid)} (${JSON.stringify(identity)})`));
    this.#cleaning.set(identity, cleaning);
    void cleaning.then(() => {
      if (this.#cleaning.get(identity) === cleaning) this.#cleaning.delete(identity);
    });
  }

  /** The removal of what `identity`'s last job left while it is under way (its next job waits for it); else undefined. */
  cleaning(identity: string): Promise<void> | undefined {
    return this.#cleaning.get(identity);
  }

  /** Resolves once every removal begun by a last job's end is done (close() waits for them: none outlives it). */
  async settled(): Promise<void> {
    await Promise.all(this.#cleaning.values());
  }

  /**
   * Removes the IPC objects of every dynamic account that runs no job (at start-up: what accounts left while no
   * manager ran, or before a crash). Resolves once done; failures are logged.
   */
  async removeIdleIpc(): Promise<void> {
    if (this.#uids === undefined) return;
    const idle = new Set<number>();
    for (const [identity, uid] of this.#uids.all()) if (!this.#running.has(identity)) idle.add(uid);
    await this.#removeIpc(idle, `the ${String(idle.size)} dynamic account(s) that run no job`);
  }

  /** Removes the IPC of the accounts of `uids` (`names` in log lines) and logs what it removed or could not. */
  async #removeIpc(uids: ReadonlySet<number>, names: string): Promise<void> {
    try {
      const { removed, failed } = await removeIpc(uids);
      if (removed.length > 0) this.#log({ level: "info", message: `removed what ${names} left: ${removed.join(", ")}` });
      if (failed.length > 0) this.#log({ level: "warn", message: `cannot remove what ${names} left: ${failed.join("; ")}` });
    } catch (error) {
      this.#log({ level: "error", message: `cannot remove what ${names} left`, error });
    }
  }

  /**
   * The account `identity`'s jobs run as, with its home directory made (JobError "permission_denied" when it has
   * none), once what its last job left is removed.
   */
  async accountOf(identity: string): Promise<Account> {
    await this.#cleaning.get(identity);
    const name = homeName(identity);
    if (this.#uids !== undefined) {
      const uid = await this.#uids.uidOf(identity);
      const home = await ensureHome(this.#homesDir, name, uid, uid, this.#log);
      return { name: identity, uid, gid: uid, groups: [], home, drop: true };
    }
    if (this.#map !== undefined) {
      const rule = matchUserMap(this.#map, identity);
      if (rule === undefined) throw new JobError("permission_denied", `${JSON.stringify(identity)} has no account to run jobs as: the user map names no account for it`);
      const home = await ensureHome(this.#homesDir, name, rule.uid, rule.gid, this.#log);
      return { name: rule.account, uid: rule.uid, gid: rule.gid, groups: rule.groups, home, drop: true };
    }
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    const home = await ensureHome(this.#homesDir, name, uid, gid, this.#log);
    return { name: serverUser(uid), uid, gid, groups: process.getgroups?.() ?? [], home, drop: false };
  }
}

/** `<dataDir>/homes`: searchable by everyone (each account passes through it to its own home), listable by none. */
async function prepareHomes(homesDir: string): Promise<void> {
  await mkdir(homesDir, { recursive: true, mode: 0o711 });
  await chmod(homesDir, 0o711);
}

function serverUser(uid: number): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${String(uid)}`; // no passwd entry
  }
}
