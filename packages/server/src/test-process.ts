// Tests that need the server in a process of its own (its memory, its file descriptors, its limits, a second
// instance beside it): `jobexec-server` as a child on loopback, with the test PKI written to files. Not part of the
// build.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { Health, JobService } from "@jobexec/proto";
import type { Credentials } from "./certificates.ts";
import { createPki, testCgroupParent, type Pki } from "./test-harness.ts";

const probeMain = join(import.meta.dirname, "test-process-main.ts");

/** Options of {@link startServerProcess}. */
export interface ServerProcessOptions {
  pki?: Pki;
  /** Extra flags of jobexec-server. */
  args?: string[];
  /** Flags of node itself, e.g. --expose-gc for {@link ServerProcess.heap}. */
  nodeArgs?: string[];
  /** A command the server runs under, e.g. ["prlimit", "--nofile=512:512", "--"]. */
  wrap?: string[];
  /** Reuse this data directory / cgroup parent (default: fresh ones). */
  dataDir?: string;
  cgroupParent?: string;
  /** Resolve once the process exits instead of waiting for it to listen (for refusals at start-up). */
  expectExit?: boolean;
}

/** A `jobexec-server` child process. */
export interface ServerProcess {
  proc: ChildProcess;
  pid: number;
  pki: Pki;
  /** https://127.0.0.1:PORT once listening. */
  url: string;
  port: number;
  dataDir: string;
  cgroupParent: string;
  /** Every stderr line, and those that are JSON log lines. */
  stderr: string[];
  logs: Record<string, unknown>[];
  exit: Promise<number | null>;
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

/** One client connection of {@link ServerProcess.connection}. */
export interface Connection {
  jobs: Client<typeof JobService>;
  health: Client<typeof Health>;
  /** Closes the connection at once. */
  close(): void;
}

/** Polls `find` until it returns something, failing after `ms`. */
export async function waitFor<T>(find: () => T | undefined, ms = 60_000, what = "a condition"): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Starts jobexec-server (through a probe entry that can report its heap) on 127.0.0.1 with a free port. */
export async function startServerProcess(options: ServerProcessOptions = {}): Promise<ServerProcess> {
  const pki = options.pki ?? (await createPki());
  const dir = await mkdtemp(join(tmpdir(), "jobexec-server-process-"));
  const files = { cert: join(dir, "server.pem"), key: join(dir, "server.key"), ca: join(dir, "ca.pem") };
  await Promise.all([writeFile(files.cert, pki.server.cert), writeFile(files.key, pki.server.key, { mode: 0o600 }), writeFile(files.ca, pki.ca.cert)]);
  const dataDir = options.dataDir ?? join(dir, "data");
  const cgroupParent = options.cgroupParent ?? testCgroupParent();
  const args = [
    "--listen", "127.0.0.1:0", "--cert", files.cert, "--key", files.key, "--client-ca", files.ca,
    "--data-dir", dataDir, "--cgroup-parent", cgroupParent, "--grace", "500ms", "--log-level", "debug",
    ...(options.args ?? []),
  ];
  const command = [...(options.wrap ?? []), process.execPath, ...(options.nodeArgs ?? []), probeMain, ...args];
  const proc = spawn(command[0] as string, command.slice(1), { stdio: ["ignore", "ignore", "pipe", "ipc"] });
  const stderr: string[] = [];
  const logs: Record<string, unknown>[] = [];
  createInterface({ input: proc.stderr as NodeJS.ReadableStream }).on("line", (line) => {
    stderr.push(line);
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // Not a log line: start-up failures are plain sentences.
    }
  });
  const exit = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  let exited = false;
  void exit.then(() => (exited = true));
  const pid = proc.pid as number;

  const waitForLog = (match: (line: Record<string, unknown>) => boolean, ms = 60_000) =>
    waitFor(() => logs.find(match) ?? (exited ? assert.fail(`the server exited:\n${stderr.join("\n")}`) : undefined), ms, "a log line");
  let url = "";
  let port = 0;
  if (options.expectExit !== true) {
    const listening = await waitForLog((l) => l.msg === "listening");
    url = String(listening.url);
    port = Number(new URL(url).port);
  } else {
    await exit;
  }
  const transport = (who: Credentials): Transport => createGrpcTransport({ baseUrl: url, nodeOptions: { ca: pki.ca.cert, cert: who.cert, key: who.key } });
  let stopped: Promise<number | null> | undefined;
  return {
    proc,
    pid,
    pki,
    url,
    port,
    dataDir,
    cgroupParent,
    stderr,
    logs,
    exit,
    heap() {
      return new Promise((resolve, reject) => {
        proc.once("message", (m: { heap?: NodeJS.MemoryUsage; error?: string }) => (m.heap ? resolve(m.heap) : reject(new Error(m.error))));
        proc.send("heap");
      });
    },
    openFds: () => readdirSync(`/proc/${pid}/fd`).length,
    transport,
    connection(who) {
      const sessionManager = new Http2SessionManager(url, {}, { ca: pki.ca.cert, cert: who.cert, key: who.key });
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
        const code = await exit;
        clearTimeout(timer);
        await rm(dir, { recursive: true, force: true });
        return code;
      })();
      return stopped;
    },
  };
}
