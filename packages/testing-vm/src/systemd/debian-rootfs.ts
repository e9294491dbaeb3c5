import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { VmError } from "../vm-error.ts";

/** What the root file system is made of: its cache key. */
export interface RootfsInputs {
  /** Debian suite (trixie). */
  suite: string;
  /** The apt mirror debootstrap fetches from. */
  mirror: string;
  /**
   * Packages besides debootstrap's minbase: systemd as PID 1. What the .deb depends on (libc6, libgcc-s1,
   * libstdc++6) and its maintainer scripts use (init-system-helpers) is in minbase already: the VM has no network.
   */
  packages: readonly string[];
}

/** The host name of the VM: the server certificate postinst makes must name it. */
export const VM_HOSTNAME = "jobexec-vm";

/** The packages of {@link RootfsInputs}. */
export const ROOTFS_PACKAGES = ["systemd", "systemd-sysv"] as const;

/**
 * The tier's Debian suite: trixie (Debian 13, systemd 257). The unit's DelegateSubgroup=, which lets a server start
 * beside the jobs an earlier one kept (--on-shutdown keep), needs systemd >= 254; bookworm's 252 ignores it.
 */
export const DEFAULT_SUITE = "trixie";

/**
 * The inputs: {@link DEFAULT_SUITE} unless JOBEXEC_VM_DEBIAN_SUITE names another, and the first mirror this host's apt
 * sources name for its own suite (VERSION_CODENAME of /etc/os-release; a Debian mirror serves every suite) unless
 * JOBEXEC_VM_DEBIAN_MIRROR says otherwise. debootstrap checks the suite's Release signature against
 * debian-archive-keyring, which must hold the suite's key.
 */
export function rootfsInputs(env: NodeJS.ProcessEnv = process.env): RootfsInputs | { missing: string } {
  const suite = env.JOBEXEC_VM_DEBIAN_SUITE ?? DEFAULT_SUITE;
  const hostSuite = /^VERSION_CODENAME=(\S+)$/m.exec(readText("/etc/os-release"))?.[1];
  const mirror = env.JOBEXEC_VM_DEBIAN_MIRROR ?? (hostSuite ? aptMirror(hostSuite) : undefined);
  if (!mirror) return { missing: `a Debian mirror (none in /etc/apt/sources.list* for this host's suite ${hostSuite ?? "(no VERSION_CODENAME in /etc/os-release)"}; set JOBEXEC_VM_DEBIAN_MIRROR)` };
  return { suite, mirror, packages: ROOTFS_PACKAGES };
}

/** The first http(s) URI the host's apt sources (deb822 .sources or one-line .list) give for `suite`. */
export function aptMirror(suite: string, dir = "/etc/apt"): string | undefined {
  const files = [join(dir, "sources.list"), ...listDir(join(dir, "sources.list.d")).map((name) => join(dir, "sources.list.d", name))];
  for (const file of files) {
    const text = readText(file);
    if (file.endsWith(".sources")) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name: string): string[] => new RegExp(`^${name}:\\s*(.+)$`, "mi").exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
        if (field("Enabled")[0] === "no" || !field("Types").includes("deb") || !field("Suites").includes(suite)) continue;
        const uri = field("URIs").find((u) => /^https?:\/\//.test(u));
        if (uri) return uri;
      }
    } else if (file.endsWith(".list")) {
      for (const line of text.split("\n")) {
        const match = /^deb\s+(?:\[[^\]]*\]\s+)?(https?:\/\/\S+)\s+(\S+)/.exec(line.trim());
        if (match?.[2] === suite) return match[1];
      }
    }
  }
  return undefined;
}

/** apt's own proxy setting (Acquire::http::Proxy), which debootstrap's wget does not read: passed on as http_proxy. */
export function aptProxy(): string | undefined {
  try {
    const dump = execFileSync("apt-config", ["dump", "Acquire::http::Proxy"], { encoding: "utf8" });
    return /^Acquire::http::Proxy "([^"]+)";$/m.exec(dump)?.[1];
  } catch {
    return undefined;
  }
}

/** The cache directory's name for `inputs`: a change of suite, mirror or packages makes a new root file system. */
export function rootfsKey(inputs: RootfsInputs): string {
  return createHash("sha256").update(JSON.stringify([inputs.suite, inputs.mirror, [...inputs.packages].sort(), VM_HOSTNAME])).digest("hex").slice(0, 16);
}

/**
 * Returns the directory of a Debian root file system made by debootstrap for `inputs`, cached in `cacheDir` as
 * rootfs-<key> (made in a temporary directory, then renamed: a failed or interrupted run leaves no half tree).
 * Older root file systems in `cacheDir` are removed once a new one is made. `log` receives what is done.
 */
export function debianRootfs(debootstrap: string, inputs: RootfsInputs, cacheDir: string, log: (line: string) => void): string {
  const name = `rootfs-${rootfsKey(inputs)}`;
  const dir = join(cacheDir, name);
  // Made under a temporary name and renamed when complete: a directory of that name is whole.
  if (existsSync(dir)) return dir;
  mkdirSync(cacheDir, { recursive: true });
  const partial = join(cacheDir, `${name}.${process.pid}.tmp`);
  rmSync(partial, { recursive: true, force: true });
  const proxy = aptProxy();
  log(`debootstrap ${inputs.suite} from ${inputs.mirror}${proxy ? ` through ${proxy}` : ""} (once; cached as ${dir})`);
  const started = performance.now();
  try {
    execFileSync(
      debootstrap,
      ["--variant=minbase", `--include=${inputs.packages.join(",")}`, inputs.suite, partial, inputs.mirror],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...(proxy ? { http_proxy: proxy } : {}) }, maxBuffer: 64 * 1024 * 1024 },
    );
  } catch (cause) {
    rmSync(partial, { recursive: true, force: true });
    const out = `${(cause as { stdout?: Buffer }).stdout ?? ""}${(cause as { stderr?: Buffer }).stderr ?? ""}`.trim().split("\n").slice(-10).join("\n");
    throw new VmError("build_failed", `debootstrap ${inputs.suite} ${inputs.mirror} failed${out ? `:\n${out}` : ""}`, { cause });
  }
  writeFileSync(join(partial, "etc/hostname"), `${VM_HOSTNAME}\n`);
  // apt's package cache only takes room in every image made from the tree.
  rmSync(join(partial, "var/cache/apt/archives"), { recursive: true, force: true });
  mkdirSync(join(partial, "var/cache/apt/archives/partial"), { recursive: true });
  renameSync(partial, dir);
  log(`debootstrap took ${((performance.now() - started) / 1000).toFixed(0)} s`);
  for (const old of listDir(cacheDir)) {
    if (old.startsWith("rootfs-") && old !== name && !old.endsWith(".tmp")) rmSync(join(cacheDir, old), { recursive: true, force: true });
  }
  return dir;
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}
