// Shared by the tests that run jobexec-server as a child process (main.ts on this Node): start it, read its log
// lines, wait for them; and, for tests that need the server's own memory, descriptors or limits, a server on
// loopback with the test PKI written to files and clients for it. Not part of the build.
import assert from "node:assert/strict";
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { Health, JobService } from "@jobexec/proto";
import type { Credentials } from "../certificates/certificates.ts";
import { testCgroupParent } from "./cgroup-parent.ts";
import { createPki, type Pki } from "./pki.ts";

/** main.ts of this package. */
export const serverMain = join(import.meta.dirname, "../main.ts");
/** main.ts with an IPC probe for the heap (test-process-main.ts). */
const probeMain = join(import.meta.dirname, "test-process-main.ts");

/** A server child: its JSON log lines, every stderr line, and its exit code. */
export interface ServerChild {
  proc: ChildProcess;
  lines: Record<string, unknown>[];
  stderr: string[];
  exit: Promise<number | null>;
}

/** Options of {@link launchServer}. */
export interface LaunchOptions {
  /**
   * Start the server holding this file open as descriptor 251 without close-on-exec, as a launcher that leaks one
   * (bash's `exec 251<>FILE`) would hand it over.
   */
  leak?: string;
  /** Run test-process-main.ts, which answers an IPC "heap" with the heap after two full collections. */
  probe?: boolean;
  /** Flags of node itself, e.g. --expose-gc. */
  nodeArgs?: string[];
  /** A command the server runs under, e.g. ["prlimit", "--nofile=256:256", "--"]. */
  wrap?: string[];
}

/** Starts `jobexec-server ARGS` with `env` on top of this process's environment. */
export function launchServer(args: string[], env: Record<string, string>, options: LaunchOptions = {}): ServerChild {
  const argv = [...(options.wrap ?? []), process.execPath, ...(options.nodeArgs ?? []), options.probe === true ? probeMain : serverMain, ...args];
  const stdio: StdioOptions = ["ignore", "ignore", "pipe", ...(options.probe === true ? ["ipc" as const] : [])];
  const spawned =
    options.leak === undefined
      ? spawn(argv[0] as string, argv.slice(1), { env: { ...process.env, ...env }, stdio })
      : spawn("bash", ["-c", 'exec 251<>"$0"; exec "$@"', options.leak, ...argv], { env: { ...process.env, ...env }, stdio });
  const lines: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  createInterface({ input: spawned.stderr as NodeJS.ReadableStream }).on("line", (line) => {
    stderr.push(line);
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // Not a log line: start-up failures are plain sentences.
    }
  });
  const exit = new Promise<number | null>((resolve) => spawned.once("exit", (code) => resolve(code)));
  return { proc: spawned, lines, stderr, exit };
}

/** Polls `find` until it returns something; fails the test after `ms`. */
export async function waitFor<T>(find: () => T | undefined, ms = 60_000, what = "a condition"): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits for the child's "listening" line, failing at once (with its stderr) if it exits first. */
export async function listening(child: ServerChild): Promise<{ url: string }> {
  let exited = false;
  void child.exit.then(() => (exited = true));
  const line = await waitFor(() => (exited ? assert.fail(`the server exited:\n${child.stderr.join("\n")}`) : child.lines.find((l) => l.msg === "listening")), 60_000, "listening");
  return line as { url: string };
}

/** Whether `pid` is a live process (a zombie runs nothing). */
/** The parent of process `pid` (field 4 of /proc/PID/stat): a job's program is the child of its monitor. */
export function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
}

/** Options of {@link startServerProcess}. */
export interface ServerProcessOptions extends Omit<LaunchOptions, "probe" | "leak"> {
  pki?: Pki;
  /** Extra flags of jobexec-server. */
  args?: string[];
  /** Reuse this data directory / cgroup parent (default: fresh ones). */
  dataDir?: string;
  cgroupParent?: string;
  /** Resolve once the process exits instead of waiting for it to listen (for refusals at start-up). */
  expectExit?: boolean;
}

/** One client connection of {@link ServerProcess.connection}. */
export interface Connection {
  jobs: Client<typeof JobService>;
  health: Client<typeof Health>;
  /** Closes the connection at once. */
  close(): void;
}

/** A `jobexec-server` child process on 127.0.0.1 with the test PKI, and clients for it. */
export interface ServerProcess extends ServerChild {
  pid: number;
  pki: Pki;
  /** https://127.0.0.1:PORT once listening. */
  url: string;
  port: number;
  dataDir: string;
  cgroupParent: string;
  /** Heap and RSS after two full garbage collections in the server (needs nodeArgs ["--expose-gc"]). */
  heap(): Promise<NodeJS.MemoryUsage>;
  /** The server's open file descriptors now. */
  openFds(): number;
  /** A new transport with its own HTTP/2 connection. */
  transport(who: Credentials): Transport;
  /** One HTTP/2 connection (opened by its first call) with both services' clients, and a way to close it. */
  connection(who: Credentials): Connection;
  jobs(who: Credentials): Client<typeof JobService>;
  health(who: Credentials): Client<typeof Health>;
  /** Waits for a log line matching `match`. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  /** SIGTERM, wait for the exit, remove the temporary directory; resolves to the exit code. */
  stop(): Promise<number | null>;
}

/** Starts jobexec-server (through the probe entry) on 127.0.0.1 with a free port, a fresh PKI unless given one. */
export async function startServerProcess(options: ServerProcessOptions = {}): Promise<ServerProcess> {
  const pki = options.pki ?? (await createPki());
  const dir = await mkdtemp(join(tmpdir(), "jobexec-server-process-"));
  // Jobs run as accounts of their own, which must pass through the data directory's parents to their homes.
  await chmod(dir, 0o711);
  const files = { cert: join(dir, "server.pem"), key: join(dir, "server.key"), ca: join(dir, "ca.pem") };
  await Promise.all([writeFile(files.cert, pki.server.cert), writeFile(files.key, pki.server.key, { mode: 0o600 }), writeFile(files.ca, pki.ca.cert)]);
  const dataDir = options.dataDir ?? join(dir, "data");
  const cgroupParent = options.cgroupParent ?? testCgroupParent();
  const args = [
    "--listen", "127.0.0.1:0", "--cert", files.cert, "--key", files.key, "--client-ca", files.ca,
    "--data-dir", dataDir, "--cgroup-parent", cgroupParent, "--grace", "500ms", "--log-level", "debug",
    ...(options.args ?? []),
  ];
  const child = launchServer(args, {}, { probe: true, ...(options.nodeArgs ? { nodeArgs: options.nodeArgs } : {}), ...(options.wrap ? { wrap: options.wrap } : {}) });
  const { proc, lines } = child;
  let exited = false;
  void child.exit.then(() => (exited = true));
  const pid = proc.pid as number;
  const waitForLog = (match: (line: Record<string, unknown>) => boolean, ms = 60_000) =>
    waitFor(() => lines.find(match) ?? (exited ? assert.fail(`the server exited:\n${child.stderr.join("\n")}`) : undefined), ms, "a log line");
  let url = "";
  let port = 0;
  if (options.expectExit !== true) {
    url = (await listening(child)).url;
    port = Number(new URL(url).port);
  } else {
    await child.exit;
  }
  const nodeOptions = (who: Credentials) => ({ ca: pki.ca.cert, cert: who.cert, key: who.key });
  const transport = (who: Credentials): Transport => createGrpcTransport({ baseUrl: url, nodeOptions: nodeOptions(who) });
  let stopped: Promise<number | null> | undefined;
  return {
    ...child,
    pid,
    pki,
    url,
    port,
    dataDir,
    cgroupParent,
    heap() {
      return new Promise((resolve, reject) => {
        proc.once("message", (m: { heap?: NodeJS.MemoryUsage; error?: string }) => (m.heap ? resolve(m.heap) : reject(new Error(m.error))));
        proc.send("heap");
      });
    },
    openFds: () => readdirSync(`/proc/${pid}/fd`).length,
    transport,
    connection(who) {
      const sessionManager = new Http2SessionManager(url, {}, nodeOptions(who));
      const t = createGrpcTransport({ baseUrl: url, sessionManager });
      return { jobs: createClient(JobService, t), health: createClient(Health, t), close: () => sessionManager.abort() };
    },
    jobs: (who) => createClient(JobService, transport(who)),
    health: (who) => createClient(Health, transport(who)),
    waitForLog,
    stop() {
      stopped ??= (async () => {
        if (!exited) proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
        const code = await child.exit;
        clearTimeout(timer);
        await rm(dir, { recursive: true, force: true });
        return code;
      })();
      return stopped;
    },
  };
}
