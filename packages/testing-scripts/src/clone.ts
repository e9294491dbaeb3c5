// Fresh copies of this checkout for the script tests, and a way to run a script in one as a new user would:
// a clean environment, PATH=/usr/local/bin:/usr/bin:/bin (no sbin), and a time limit.
import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

/** The checkout these tests belong to. */
export const checkoutDir = resolve(import.meta.dirname, "../../..");

/** A copy of the checkout in a directory of its own. */
export interface Clone {
  /** The temporary directory holding it (mode 0700, as mktemp -d makes it): other accounts cannot enter. */
  readonly dir: string;
  /** The copy's root. */
  readonly root: string;
  /** A directory for the command links (JOBEXEC_BIN_DIR). */
  readonly binDir: string;
}

/**
 * Copies this checkout's files as git sees them (tracked and untracked, not ignored: what a clone of the
 * working tree would hold; no node_modules, no build) into a new 0700 temporary directory. With `tools`, the
 * copy's .tools links to this checkout's, so that setup does not download Node and pnpm again.
 */
export function freshClone(options: { tools: boolean }): Clone {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "jobexec-clone-")));
  const root = join(dir, "jobexec");
  try {
    const listed = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: checkoutDir }).toString();
    for (const path of new Set(listed.split("\0").filter((p) => p !== ""))) {
      const from = join(checkoutDir, path);
      if (lstatSync(from, { throwIfNoEntry: false }) === undefined) continue; // deleted, not yet committed
      mkdirSync(dirname(join(root, path)), { recursive: true });
      cpSync(from, join(root, path), { verbatimSymlinks: true });
    }
    const tools = join(checkoutDir, ".tools");
    if (options.tools && existsSync(tools)) symlinkSync(realpathSync(tools), join(root, ".tools"));
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { dir, root, binDir: join(dir, "bin") };
}

/** Removes a clone. */
export function removeClone(clone: Clone): void {
  rmSync(clone.dir, { recursive: true, force: true });
}

// What a new user's shell would carry into the scripts: the certificates npm needs behind this network's TLS
// proxy and proxy settings, nothing of the test runner's (Nx, CI, JOBEXEC_*).
const passed = /^(HOME|LANG|LC_ALL|TERM|NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR|(https?|no|all)_proxy|(HTTPS?|NO|ALL)_PROXY)$/;

/** The clean environment of {@link run}, plus `extra`. */
export function newUserEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => passed.test(e[0]) && e[1] !== undefined));
  return { ...env, PATH: "/usr/local/bin:/usr/bin:/bin", ...extra };
}

/** The result of a script run. */
export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/**
 * Runs `command` (argv) in `cwd` with `env`; after `timeoutMs` its whole process group is killed. Processes
 * that left the group (quickstart's server, in its own session) are the caller's to stop.
 */
export async function run(cwd: string, command: readonly string[], env: Record<string, string>, timeoutMs: number): Promise<Run> {
  const started = performance.now();
  const child = spawn(command[0] as string, command.slice(1), { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const timer = setTimeout(() => process.kill(-(child.pid as number), "SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((done) => child.once("close", done));
  clearTimeout(timer);
  return { code, stdout, stderr, ms: performance.now() - started };
}

/** A loopback port nothing listens on (taken from the kernel, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}
