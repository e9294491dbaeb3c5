import { createHash, randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** Where published runtimes go, one directory per checkout: a prefix every account can read. */
export const publishRoot = "/usr/local/lib/jobexec";

/** What a job executes to run slow. */
export interface JobRuntime {
  /** The Node binary. */
  readonly node: string;
  /** slow's entry module, to run as `node slow N ...`. */
  readonly slow: string;
  /** When published: the directory of a `slow` command that runs exactly these two. */
  readonly binDir?: string;
}

/** The directory a checkout's runtime is published to: keyed by the checkout's real path. */
export function runtimeDir(checkout: string, root: string = publishRoot): string {
  return join(root, createHash("sha256").update(checkout).digest("hex").slice(0, 16));
}

/** What {@link publishRuntime} copies. */
export interface PublishOptions {
  /** Real path of the checkout (the key of the directory). */
  readonly checkout: string;
  /** Real path of the Node binary jobs run slow on. */
  readonly node: string;
  /** Whether other accounts can execute `node` where it is: then it is used in place, not copied. */
  readonly nodeReachable: boolean;
  /** slow's built modules (`dist/`): every `*.js` file is copied. */
  readonly distDir: string;
  /** Defaults to {@link publishRoot}. */
  readonly root?: string;
}

/**
 * Publishes what jobs execute to run slow into {@link runtimeDir}, readable and executable by every account:
 * `node` (a hard link to the project's Node, or a copy across filesystems), `slow-<content hash>/` (slow's
 * modules) and `bin/slow` (a launcher running the two). Idempotent: a piece is rewritten only when it differs
 * from the source, always under a temporary name renamed into place, so concurrent runs and running jobs
 * never see a half-written file. Older copies of slow are removed.
 */
export function publishRuntime(options: PublishOptions): JobRuntime {
  const dir = runtimeDir(options.checkout, options.root);
  for (const path of [options.root ?? publishRoot, dir, join(dir, "bin")]) makeDir(path);
  const node = options.nodeReachable ? options.node : publishFile(options.node, join(dir, "node"));
  const slowDir = publishModules(options.distDir, dir);
  const slow = join(slowDir, "slow.js");
  writeIfChanged(join(dir, "bin", "slow"), `#!/bin/sh\n# Published by jobexec's scripts/setup.sh for ${options.checkout}\nexec ${quote(node)} ${quote(slow)} "$@"\n`, 0o755);
  // For whoever finds this directory and wonders which checkout it serves.
  writeIfChanged(join(dir, "checkout"), `${options.checkout}\n`, 0o644);
  return { node, slow, binDir: join(dir, "bin") };
}

function makeDir(path: string): void {
  const existing = statSync(path, { throwIfNoEntry: false });
  if (existing === undefined) mkdirSync(path, { recursive: true });
  // 0755 whatever the umask; a directory already right is not touched (in the VM tier, this prefix is read-only).
  if (existing === undefined || (existing.mode & 0o777) !== 0o755) chmodSync(path, 0o755);
}

/** A hidden temporary name beside `path`, for writing and then renaming over it. */
function temporary(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${randomBytes(6).toString("hex")}`);
}

/** Makes `target` the same file as `source`: a hard link (same inode) when possible, else a copy with its mtime. */
function publishFile(source: string, target: string): string {
  const from = statSync(source);
  const to = statSync(target, { throwIfNoEntry: false });
  const same = to !== undefined && ((to.dev === from.dev && to.ino === from.ino) || (to.size === from.size && to.mtimeMs === from.mtimeMs && (to.mode & 0o777) === 0o755));
  if (same) return target;
  const tmp = temporary(target);
  try {
    // A link shares the source's mode, which must already let others execute it.
    if ((from.mode & 0o001) === 0) throw new Error("not executable by others");
    linkSync(source, tmp);
  } catch {
    copyFileSync(source, tmp);
    chmodSync(tmp, 0o755);
    utimesSync(tmp, from.atime, from.mtime);
  }
  renameSync(tmp, target);
  return target;
}

/** Copies `distDir/*.js` to `dir/slow-<hash of their names and contents>/` (with a package.json that makes them ES modules). */
function publishModules(distDir: string, dir: string): string {
  const names = readdirSync(distDir).filter((name) => name.endsWith(".js")).sort();
  const files = names.map((name) => ({ name, data: readFileSync(join(distDir, name)) }));
  const hash = createHash("sha256");
  for (const { name, data } of files) hash.update(`${name}\0${data.length}\0`).update(data);
  const name = `slow-${hash.digest("hex").slice(0, 16)}`;
  const target = join(dir, name);
  if (statSync(target, { throwIfNoEntry: false }) === undefined) {
    const tmp = temporary(target);
    makeDir(tmp);
    for (const file of [...files, { name: "package.json", data: Buffer.from('{ "type": "module" }\n') }]) {
      writeFileSync(join(tmp, file.name), file.data);
      chmodSync(join(tmp, file.name), 0o644);
    }
    try {
      renameSync(tmp, target);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      // Another process published the same content first.
      if (statSync(target, { throwIfNoEntry: false }) === undefined) throw err;
    }
  }
  for (const old of readdirSync(dir)) {
    if (old.startsWith("slow-") && old !== name) rmSync(join(dir, old), { recursive: true, force: true });
  }
  return target;
}

function writeIfChanged(path: string, text: string, mode: number): void {
  try {
    if (readFileSync(path, "utf8") === text && (statSync(path).mode & 0o777) === mode) return;
  } catch {
    // not there yet
  }
  const tmp = temporary(path);
  writeFileSync(tmp, text);
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

/** A word for sh, in single quotes. */
function quote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
