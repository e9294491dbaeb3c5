// The manager's sub-tree of the cgroup v2 hierarchy: found, built obeying the no-internal-processes rule, removed.
import { mkdir, readdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { JobError } from "../job-error.ts";
import type { CgroupInfo, CgroupMode } from "../types.ts";
import { errnoCode, isPopulated, killCgroup, readOptional, readProcs, removeCgroup, retryBusy, waitUnpopulated } from "./cgroup-fs.ts";
import { parseCgroup2Mount, parseProcCgroup } from "./file-formats.ts";
import { pathExists } from "../path-exists.ts";

/** `parent` as a normalised relative cgroup path; JobError "invalid_argument" for an absolute one or "." / "..". */
export function checkCgroupParent(parent: string): string {
  const segments = parent.split("/").filter(Boolean);
  if (segments.length === 0 || parent.includes("\0") || segments.some((s) => s === "." || s === "..")) {
    throw new JobError("invalid_argument", `cgroupParent ${JSON.stringify(parent)} must be a relative path without "." or ".."`);
  }
  return segments.join("/");
}

/** The controllers jobexec enables for jobs when the host offers them. */
export const jobControllers = ["cpu", "io", "memory", "pids"] as const;

/** Where cgroup v2 is mounted and which cgroup this process is in, read from /proc/self. */
export async function detectCgroup2(procSelf = "/proc/self"): Promise<{ mode: CgroupMode; mount?: string; own?: string }> {
  const mountinfo = await readFile(join(procSelf, "mountinfo"), "utf8");
  const mount = parseCgroup2Mount(mountinfo);
  const own = parseProcCgroup(await readFile(join(procSelf, "cgroup"), "utf8"));
  if (mount === undefined || own === undefined) return { mode: "none" };
  // v1 hierarchies mounted beside the cgroup2 one make a hybrid host (cgroup2 then has /sys/fs/cgroup/unified).
  const hybrid = mountinfo.split("\n").some((line) => line.includes(" - cgroup "));
  return { mode: hybrid ? "hybrid" : "unified", mount, own };
}

/** How this process placed itself in its own cgroup; shared by every manager of the process. */
interface Delegation {
  ownDir: string;
  /** The leaf the process moved into, when its own cgroup is not the hierarchy's root. */
  leafDir?: string;
  /** Controllers this process enabled in its own cgroup's subtree_control (to disable on release). */
  enabled: string[];
  /** The process started in the leaf (see acquireDelegation): it stays there, and the leaf stays. */
  startedInLeaf: boolean;
  users: number;
}

let delegation: Promise<Delegation> | undefined;

function words(text: string | undefined): string[] {
  return text === undefined ? [] : text.split(/\s+/).filter(Boolean);
}


async function mkdirIfMissing(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (err) {
    if (errnoCode(err) !== "EEXIST") throw err;
  }
}

async function moveProcs(from: string, to: string): Promise<void> {
  for (const pid of await readProcs(from)) {
    try {
      await writeFile(join(to, "cgroup.procs"), String(pid));
    } catch (err) {
      if (errnoCode(err) !== "ESRCH") throw err; // it exited meanwhile
    }
  }
}

/**
 * Enables the available job controllers in `dir`'s cgroup.subtree_control, one at a time so that one the
 * kernel refuses does not cost the others; returns those it newly enabled.
 */
async function enableControllers(dir: string): Promise<string[]> {
  const available = words(await readOptional(join(dir, "cgroup.controllers")));
  const enabled = words(await readOptional(join(dir, "cgroup.subtree_control")));
  const added: string[] = [];
  for (const c of jobControllers.filter((c) => available.includes(c) && !enabled.includes(c))) {
    try {
      await retryBusy(() => writeFile(join(dir, "cgroup.subtree_control"), `+${c}`));
      added.push(c);
    } catch {
      // Jobs then run without it; a job asking for its limit is refused naming it.
    }
  }
  return added;
}

/** The name of the leaf this process moves into when its own cgroup is not the root. */
const leafName = "supervisor";

async function acquireDelegation(mount: string, own: string): Promise<Delegation> {
  let ownDir = join(mount, own);
  // Started in the leaf itself: its parent is the delegated cgroup. A unit whose jobs an earlier run left running
  // (onClose "keep") has controllers enabled for them, so it cannot take processes any more: a service manager then
  // starts the next server in the leaf (systemd's DelegateSubgroup=supervisor), next to the jobs' parent it adopts.
  const startedInLeaf = basename(ownDir) === leafName && (await pathExists(join(dirname(ownDir), "cgroup.type")));
  if (startedInLeaf) ownDir = dirname(ownDir);
  let leafDir: string | undefined;
  // Only the true root may hold processes and enable controllers at once (it alone has no cgroup.type);
  // anywhere else, including a cgroup namespace's root, this process first moves into a leaf.
  if (await pathExists(join(ownDir, "cgroup.type"))) {
    leafDir = join(ownDir, leafName);
    await mkdirIfMissing(leafDir);
    await moveProcs(ownDir, leafDir);
  }
  const enabled = await enableControllers(ownDir);
  return { ownDir, leafDir, enabled, users: 0, startedInLeaf };
}

async function releaseDelegation(d: Delegation, log: (message: string, error: unknown) => void): Promise<void> {
  if (--d.users > 0) return;
  delegation = undefined;
  // In the root cgroup nothing needs undoing, and controllers stay enabled (as systemd leaves them): other
  // processes may have sub-trees using them. A process started in the leaf leaves it as it found it.
  if (d.leafDir === undefined || d.startedInLeaf) return;
  try {
    // Processes may come back only once no controller is enabled for children (no internal processes).
    if (d.enabled.length > 0) {
      await retryBusy(() => writeFile(join(d.ownDir, "cgroup.subtree_control"), d.enabled.map((c) => `-${c}`).join(" ")));
    }
    await moveProcs(d.leafDir, d.ownDir);
    await removeCgroup(d.leafDir);
  } catch (err) {
    log(`could not move back to the server's own cgroup ${d.ownDir}`, err);
  }
}

/**
 * The directory {@link CgroupSubtree.open} would build for `parentName`, found without creating or moving anything
 * (for locking it first); undefined without cgroup v2.
 */
export async function subtreeDir(parentName: string): Promise<string | undefined> {
  const found = await detectCgroup2();
  if (found.mount === undefined || found.own === undefined) return undefined;
  // Once a manager of this process moved it into its leaf, the process's own cgroup is the one it came from.
  const ownDir = delegation === undefined ? join(found.mount, found.own) : (await delegation).ownDir;
  return join(ownDir, ...parentName.split("/").filter(Boolean));
}

/** The manager's cgroup sub-tree. */
export class CgroupSubtree {
  readonly info: CgroupInfo;
  readonly parentDir: string;
  readonly #delegation: Delegation;
  readonly #created: string[];

  private constructor(info: CgroupInfo, parentDir: string, d: Delegation, created: string[]) {
    this.info = info;
    this.parentDir = parentDir;
    this.#delegation = d;
    this.#created = created;
  }

  /**
   * Builds `<own cgroup>/<parentName>` with the job controllers enabled on the way down, after moving this
   * process into `<own cgroup>/supervisor` unless it is in the root. Returns undefined without cgroup v2.
   */
  static async open(parentName: string): Promise<CgroupSubtree | undefined> {
    const found = await detectCgroup2();
    if (found.mount === undefined || found.own === undefined) return undefined;
    const { mount, own } = found;
    delegation ??= acquireDelegation(mount, own).catch((err: unknown) => {
      delegation = undefined;
      throw err;
    });
    const d = await delegation;
    d.users++;
    // A delegation made by an earlier manager of this process reflects the original own cgroup, not the leaf.
    let dir = d.ownDir;
    const created: string[] = [];
    try {
      for (const segment of parentName.split("/").filter(Boolean)) {
        dir = join(dir, segment);
        if (!(await pathExists(dir))) {
          await mkdirIfMissing(dir);
          created.push(dir);
        }
        await enableControllers(dir);
      }
      const controllers = words(await readOptional(join(dir, "cgroup.subtree_control")));
      return new CgroupSubtree({ mode: found.mode, root: mount, parent: dir, controllers }, dir, d, created);
    } catch (err) {
      for (const made of created.reverse()) await rmdir(made).catch(() => undefined);
      await releaseDelegation(d, () => undefined);
      throw err;
    }
  }

  /**
   * Kills and removes every cgroup under the parent whose name `keep` does not accept (leftovers of an earlier
   * run); returns what it removed.
   */
  async removeLeftovers(keep: (name: string) => boolean = () => false): Promise<{ dir: string; pids: number[] }[]> {
    const removed: { dir: string; pids: number[] }[] = [];
    for (const entry of await readdir(this.parentDir, { withFileTypes: true })) {
      if (!entry.isDirectory() || keep(entry.name)) continue;
      const dir = join(this.parentDir, entry.name);
      const pids = await readProcs(dir);
      if (await isPopulated(dir)) {
        await killCgroup(dir);
        await waitUnpopulated(dir);
      }
      await removeCgroup(dir);
      removed.push({ dir, pids });
    }
    return removed;
  }

  /**
   * Removes the parent (and the intermediate directories this manager made), then, when the last manager of
   * this process closes, disables the controllers it enabled and moves the process back to its own cgroup.
   */
  async close(log: (message: string, error: unknown) => void): Promise<void> {
    await removeCgroup(this.parentDir);
    for (const dir of this.#created.filter((d) => d !== this.parentDir).reverse()) {
      try {
        await rmdir(dir);
      } catch (err) {
        log(`could not remove ${dir}`, err);
      }
    }
    await releaseDelegation(this.#delegation, log);
  }
}
