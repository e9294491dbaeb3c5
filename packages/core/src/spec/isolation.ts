// A job's isolation: the spec's fields over the manager's defaults, checked against what this host can give.
import { constants, readFile } from "node:fs/promises";
import { enterHelperPath, type Isolation as CgexecIsolation } from "@jobexec/cgexec";
import { JobError } from "../job-error.ts";
import type { Isolation, IsolationSpec } from "../types.ts";
import { pathExists } from "../path-exists.ts";

/** Size of each private tmpfs when neither the spec nor the defaults give one: 64 MiB. */
export const DEFAULT_PRIVATE_TMP_BYTES = 64 * 1024 * 1024;

/** No isolation. */
export const NO_ISOLATION: Isolation = { privateNetwork: false, privateTmp: false, privateTmpBytes: 0, readOnlySystem: false };

/** Why this host cannot give each kind of isolation; an absent field means it can. Probed once, at create(). */
export interface IsolationSupport {
  /** Network namespaces (private network). */
  network?: string;
  /** Mount namespaces (private /tmp, read-only system). */
  mounts?: string;
  /** tmpfs (private /tmp). */
  tmpfs?: string;
}


/** What this host can give: cgexec-enter built, root, and the kernel's namespaces and tmpfs. */
export async function probeIsolation(): Promise<IsolationSupport> {
  // Without the helper or root nothing can be isolated: that reason then stands for every kind.
  let shared: string | undefined;
  if (!(await pathExists(enterHelperPath, constants.X_OK))) {
    shared = `cgexec-enter is not built (${enterHelperPath} is missing: @jobexec/cgexec was built without a C compiler)`;
  } else if (process.geteuid?.() !== 0) {
    shared = "namespaces and mounts need the server to run as root";
  }
  if (shared !== undefined) return { network: shared, mounts: shared, tmpfs: shared };
  const support: IsolationSupport = {};
  if (!(await pathExists("/proc/self/ns/net"))) support.network = "this kernel has no network namespaces (CONFIG_NET_NS)";
  if (!(await pathExists("/proc/self/ns/mnt"))) support.mounts = "this kernel has no mount namespaces";
  const filesystems = await readFile("/proc/filesystems", "utf8").catch(() => "");
  if (!/\ttmpfs$/m.test(filesystems)) support.tmpfs = "this kernel has no tmpfs";
  return support;
}

function invalid(message: string): never {
  throw new JobError("invalid_argument", message);
}

function checkFlag(what: string, value: unknown): boolean | undefined {
  if (value !== undefined && typeof value !== "boolean") invalid(`${what} must be true or false`);
  return value;
}

/** Checks the shape of an IsolationSpec (a spec's or the defaults'), `what` naming it in messages. */
export function checkIsolationSpec(spec: unknown, what: string, memoryBytes: number): IsolationSpec {
  if (spec === undefined) return {};
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) invalid(`${what} must be an object`);
  const { privateNetwork, privateTmp, privateTmpBytes, readOnlySystem } = spec as Record<string, unknown>;
  const out: IsolationSpec = {};
  const flags = { privateNetwork, privateTmp, readOnlySystem };
  for (const [name, value] of Object.entries(flags)) {
    const flag = checkFlag(`${what}.${name}`, value);
    if (flag !== undefined) out[name as keyof typeof flags] = flag;
  }
  if (privateTmpBytes !== undefined) {
    if (typeof privateTmpBytes !== "number" || !Number.isSafeInteger(privateTmpBytes) || privateTmpBytes <= 0) {
      invalid(`${what}.privateTmpBytes must be a whole number of bytes above 0, not ${String(privateTmpBytes)}`);
    }
    if (privateTmpBytes > memoryBytes) invalid(`${what}.privateTmpBytes ${String(privateTmpBytes)} exceeds the host's memory (${String(memoryBytes)})`);
    out.privateTmpBytes = privateTmpBytes;
  }
  return out;
}

/**
 * The isolation a job gets: each field of `spec` (checked), else `defaults`'. Throws JobError "invalid_argument"
 * for a bad field or a size without a private /tmp, and "failed_precondition" naming what the host lacks for what
 * was asked.
 */
export function resolveIsolation(spec: unknown, defaults: IsolationSpec, support: IsolationSupport, memoryBytes: number): Isolation {
  const asked = checkIsolationSpec(spec, "isolation", memoryBytes);
  const privateTmp = asked.privateTmp ?? defaults.privateTmp ?? false;
  if (asked.privateTmpBytes !== undefined && !privateTmp) invalid("isolation.privateTmpBytes needs isolation.privateTmp");
  const isolation: Isolation = {
    privateNetwork: asked.privateNetwork ?? defaults.privateNetwork ?? false,
    privateTmp,
    privateTmpBytes: privateTmp ? (asked.privateTmpBytes ?? defaults.privateTmpBytes ?? DEFAULT_PRIVATE_TMP_BYTES) : 0,
    readOnlySystem: asked.readOnlySystem ?? defaults.readOnlySystem ?? false,
  };
  const lacking = (what: string, why: string | undefined): void => {
    if (why !== undefined) throw new JobError("failed_precondition", `${what} is not available on this host: ${why}`);
  };
  if (isolation.privateNetwork) lacking("a private network (isolation.privateNetwork)", support.network);
  if (isolation.privateTmp) lacking("a private /tmp (isolation.privateTmp)", support.mounts ?? support.tmpfs);
  if (isolation.readOnlySystem) lacking("a read-only system (isolation.readOnlySystem)", support.mounts);
  return isolation;
}

// The directories a private /tmp hides.
const tmpDirs = ["/tmp", "/var/tmp"];

function hiddenBy(path: string): string | undefined {
  return tmpDirs.find((dir) => path === dir || path.startsWith(`${dir}/`));
}

/**
 * Refuses what a private /tmp would hide from the job: its working directory or program ("invalid_argument": the
 * request's choice), or its home ("failed_precondition": the server's data directory is under /tmp).
 */
export function checkHiddenPaths(isolation: Isolation, paths: { cwd: string; cwdGiven: boolean; home: string; executable: string }): void {
  if (!isolation.privateTmp) return;
  const home = hiddenBy(paths.home);
  if (home !== undefined) {
    throw new JobError("failed_precondition", `the job's home ${paths.home} is under ${home}, which a private /tmp hides from the job (the server's data directory must be elsewhere)`);
  }
  const cwd = hiddenBy(paths.cwd);
  if (cwd !== undefined && paths.cwdGiven) invalid(`cwd ${JSON.stringify(paths.cwd)} is under ${cwd}, which a private /tmp hides from the job`);
  const program = hiddenBy(paths.executable);
  if (program !== undefined) invalid(`program ${JSON.stringify(paths.executable)} is under ${program}, which a private /tmp hides from the job`);
}

/** Whether `isolation` asks for anything. */
export function isIsolated(isolation: Isolation): boolean {
  return isolation.privateNetwork || isolation.privateTmp || isolation.readOnlySystem;
}

/** The steps cgexec takes for `isolation`, with `home` kept writable under a read-only system (cgexec adds the cwd). */
export function cgexecIsolation(isolation: Isolation, home: string): CgexecIsolation | undefined {
  if (!isIsolated(isolation)) return undefined;
  return {
    networkNone: isolation.privateNetwork,
    privateTmpBytes: isolation.privateTmp ? isolation.privateTmpBytes : undefined,
    readOnly: isolation.readOnlySystem,
    writable: isolation.readOnlySystem ? [home] : [],
  };
}
