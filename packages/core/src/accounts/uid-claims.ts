// Host-wide claims on dynamic uids: two managers (two servers, each with its own data directory) never give one
// uid to two identities. Like systemd's /run/systemd/dynamic-uid/: one file per uid, created exclusively.
import { constants } from "node:fs";
import { mkdir, open, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode } from "../cgroup/cgroup-fs.ts";

/** Where the claims of every manager on this host live. */
export const DEFAULT_CLAIMS_DIR = "/run/jobexec/dynamic-uids";

// A claim younger than this counts as live even before its manager has written the uid into its mapping file.
const settleMs = 60_000;

/** A claim file's content: whose mapping holds the uid, and for which identity. */
interface Claim {
  file: string;
  identity: string;
}

/**
 * The claims of one manager, whose identity -> uid mapping is `mappingFile`. A claim of another manager stays in
 * force while that manager's mapping file still gives it the uid (or for a minute after it was made); a claim
 * whose mapping file is gone or maps the uid no more (its data directory removed, its identity re-mapped) is
 * stale and may be taken over. Claims live in /run, so they are made again from the mapping after a reboot.
 */
export class UidClaims {
  readonly #dir: string;
  readonly #mappingFile: string;

  constructor(mappingFile: string, dir = DEFAULT_CLAIMS_DIR) {
    this.#dir = dir;
    this.#mappingFile = mappingFile;
  }

  /**
   * Claims `uid` for `identity` of this manager: resolves true when the uid is this manager's now (claimed before
   * or just now), false when another manager's claim on it is in force.
   */
  async claim(uid: number, identity: string): Promise<boolean> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const path = join(this.#dir, String(uid));
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await this.#create(path, identity)) return true;
      const held = await readClaim(path);
      if (held === undefined) continue; // removed meanwhile
      if (held.file === this.#mappingFile) return held.identity === identity;
      if (await inForce(path, held, uid)) return false;
      await rm(path, { force: true }); // stale: take it over (the exclusive create decides between rivals)
    }
    return false;
  }

  /** Gives up this manager's claim on `uid` for `identity` (made by {@link claim}); another's is left alone. */
  async release(uid: number, identity: string): Promise<void> {
    const path = join(this.#dir, String(uid));
    const held = await readClaim(path);
    if (held?.file === this.#mappingFile && held.identity === identity) await rm(path, { force: true });
  }

  async #create(path: string, identity: string): Promise<boolean> {
    let file;
    try {
      file = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    } catch (err) {
      if (errnoCode(err) === "EEXIST") return false;
      throw err;
    }
    try {
      await file.writeFile(JSON.stringify({ file: this.#mappingFile, identity } satisfies Claim));
    } finally {
      await file.close();
    }
    return true;
  }
}

async function readClaim(path: string): Promise<Claim | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return undefined;
    throw err;
  }
  try {
    const claim = JSON.parse(text) as Partial<Claim>;
    if (typeof claim.file === "string" && typeof claim.identity === "string") return { file: claim.file, identity: claim.identity };
  } catch {
    // written half-way by its maker at this very moment, or damaged: decided below by its age
  }
  return { file: "", identity: "" };
}

/** Whether another manager's claim still holds: recent, or its mapping file gives the uid to the claimed identity. */
async function inForce(path: string, claim: Claim, uid: number): Promise<boolean> {
  try {
    if (Date.now() - (await stat(path)).mtimeMs < settleMs) return true;
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return false;
    throw err;
  }
  if (claim.file === "") return false;
  let mapping: { uids?: Record<string, unknown> };
  try {
    mapping = JSON.parse(await readFile(claim.file, "utf8")) as { uids?: Record<string, unknown> };
  } catch (err) {
    // Gone: its data directory was removed. Unreadable for another reason: keep out of its way.
    return errnoCode(err) !== "ENOENT";
  }
  return mapping.uids?.[claim.identity] === uid;
}
