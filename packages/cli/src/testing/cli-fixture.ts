// Shared set-up of the CLI's end-to-end tests: a throw-away PKI written to per-user config directories, a real
// jobexec server in this process (ephemeral port, own data directory and cgroup parent), and the CLI run as a
// subprocess. Not part of the build.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createCa, issueCertificate, silentLogger, startServer, type Credentials, type RunningServer, type ServerConfig } from "@jobexec/server";

/** bin/run.js of this package. */
export const cliPath = fileURLToPath(new URL("../../bin/run.js", import.meta.url));

/** The identities the tests use; each has a config directory with client.pem, client.key and ca.pem. */
export type User = "alice" | "bob" | "admin" | "foreign" | "expired" | "noclientauth" | "sha1";

/** A running server with credentials for every {@link User}. */
export interface CliServer {
  server: RunningServer;
  /** HOST:PORT of the server. */
  address: string;
  /** Temp directory holding everything; removed by close(). */
  dir: string;
  ca: Credentials;
  /** The config directory (JOBEXEC_CONFIG_DIR) of a user. */
  configDir(user: User): string;
  /** Stops the server (its running jobs stopped, queued ones kept) and starts another on the same port and data. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** The result of one CLI run. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

const hour = 3_600_000;

async function writeConfig(dir: string, client: Credentials, ca: Credentials): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "client.pem"), client.cert);
  await writeFile(join(dir, "client.key"), client.key, { mode: 0o600 });
  await writeFile(join(dir, "ca.pem"), ca.cert);
}

/**
 * Starts a server with a fresh PKI (and `options` over its defaults) and writes a config directory per user; `base` is
 * where its directory goes (a private /tmp hides one under /tmp from jobs).
 */
export async function startCliServer({ base, ...options }: { base?: string } & Pick<ServerConfig, "standby" | "defaultIsolation" | "queue"> = {}): Promise<CliServer> {
  const dir = await mkdtemp(join(base ?? tmpdir(), "jobexec-cli-test-"));
  // Jobs run as dynamic accounts, which pass through here to their homes in the data directory.
  await chmod(dir, 0o711);
  const ca = await createCa("cli test CA");
  const otherCa = await createCa("some other CA");
  const past = new Date(Date.now() - 48 * hour);
  const [server, alice, bob, admin, foreign, expired, noClientAuth, sha1] = await Promise.all([
    issueCertificate(ca, { subject: { commonName: "jobexec-server" }, usage: "server", sans: ["localhost", "127.0.0.1"] }),
    issueCertificate(ca, { subject: { commonName: "alice" }, usage: "client" }),
    issueCertificate(ca, { subject: { commonName: "bob" }, usage: "client" }),
    issueCertificate(ca, { subject: { commonName: "root", organizationalUnit: "admin" }, usage: "client" }),
    issueCertificate(otherCa, { subject: { commonName: "mallory" }, usage: "client" }),
    issueCertificate(ca, { subject: { commonName: "alice" }, usage: "client", notBefore: past, notAfter: new Date(past.getTime() + hour) }),
    issueCertificate(ca, { subject: { commonName: "carol" }, usage: "server" }),
    issueCertificate(ca, { subject: { commonName: "dave" }, usage: "client", hash: "SHA-1" }),
  ]);
  const users: Record<User, Credentials> = { alice, bob, admin, foreign, expired, noclientauth: noClientAuth, sha1 };
  await Promise.all(Object.entries(users).map(([user, creds]) => writeConfig(join(dir, "users", user), creds, ca)));
  const config: ServerConfig = {
    port: 0,
    tls: { cert: server.cert, key: server.key, clientCa: ca.cert },
    dataDir: join(dir, "data"),
    // Unique: tests of several packages share this host's cgroup v2 hierarchy at the same time.
    cgroupParent: `jobexec-cli-test-${randomBytes(6).toString("hex")}`,
    defaultGraceMs: 1000,
    log: silentLogger,
    ...options,
  };
  let running = await startServer(config);
  return {
    get server() {
      return running;
    },
    async restart() {
      await running.close();
      running = await startServer({ ...config, port: running.port });
    },
    address: `127.0.0.1:${running.port}`,
    dir,
    ca,
    configDir: (user) => join(dir, "users", user),
    async close() {
      await running.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Options of {@link spawnCli}. */
export interface SpawnOptions {
  /** Whose credentials to use (JOBEXEC_CONFIG_DIR); default alice. */
  user?: User;
  /** Server address (JOBEXEC_SERVER); default the test server; null leaves JOBEXEC_SERVER unset. */
  server?: string | null;
  /** Extra environment. */
  env?: Record<string, string>;
  /** The CLI's entry script; default this package's bin/run.js (the benchmark also times other builds). */
  cli?: string;
  /** Kill the CLI after this many milliseconds; default 120 000 (long-running commands such as `ui` need more). */
  timeoutMs?: number;
  /** The Node that runs it; default this one (the npm package's test runs the system's). */
  node?: string;
}

/** Starts the CLI as a subprocess against the test server, with a clean JOBEXEC_* environment and no colours. */
export function spawnCli(t: CliServer, args: string[], options: SpawnOptions = {}): ChildProcess {
  // Runners such as Nx set FORCE_COLOR, which Node warns about (on stderr) when NO_COLOR is set too.
  const inherited = Object.entries(process.env).filter(([name]) => !name.startsWith("JOBEXEC_") && name !== "FORCE_COLOR");
  const env = {
    ...Object.fromEntries(inherited),
    JOBEXEC_CONFIG_DIR: t.configDir(options.user ?? "alice"),
    ...(options.server === null ? {} : { JOBEXEC_SERVER: options.server ?? t.address }),
    NO_COLOR: "1",
    // JOBEXEC_TEST_NO_FAST_PATH=1 runs the CLI's tests on oclif alone (src/fast/main.ts).
    ...(process.env.JOBEXEC_TEST_NO_FAST_PATH ? { JOBEXEC_NO_FAST_PATH: "1" } : {}),
    ...options.env,
  };
  // The timeout only keeps a hung CLI from outliving the test run; no test relies on it.
  // "--", as bin/launch and the CLI's #! line give it: else Node takes our --env-file for its own.
  return spawn(options.node ?? process.execPath, ["--", options.cli ?? cliPath, ...args], { env, stdio: ["ignore", "pipe", "pipe"], timeout: options.timeoutMs ?? 120_000 });
}

/** Waits for a CLI subprocess to end and collects its output. */
export async function collectCli(child: ChildProcess): Promise<CliResult> {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout?.on("data", (b: Buffer) => stdout.push(b));
  child.stderr?.on("data", (b: Buffer) => stderr.push(b));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (c, s) => resolve([c, s]));
  });
  return { code, signal, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString() };
}

/** Runs the CLI to its end. */
export async function runCli(t: CliServer, args: string[], options: SpawnOptions = {}): Promise<CliResult> {
  return collectCli(spawnCli(t, args, options));
}

/** The job id a `jobexec start` run printed, checked to be the only thing it printed. */
export function startedId(result: CliResult): string {
  const text = result.stdout.toString();
  if (result.code !== 0 || !/^[0-9a-f-]{36}\n$/.test(text)) {
    throw new Error(`jobexec start failed: exit ${result.code}, stdout ${JSON.stringify(text)}, stderr ${JSON.stringify(result.stderr)}`);
  }
  return text.trim();
}

/** Parses the JSON a --json run printed, after checking it succeeded. */
export function jsonOf<T = Record<string, unknown>>(result: CliResult): T {
  if (result.code !== 0) throw new Error(`jobexec failed: exit ${result.code}, stderr ${JSON.stringify(result.stderr)}`);
  return JSON.parse(result.stdout.toString()) as T;
}

/** Number of open file descriptors of this process (the in-process server's included). */
export function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/** Polls `check` every 50 ms until it returns true or `ms` pass; returns its last answer. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}
