// Shared set-up of the server's tests: a throw-away PKI, an in-process server on an ephemeral port with its own
// data directory and cgroup parent, real Connect clients, and a jobexec-server child process. Not part of the build.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { Health, JobService, OutputStream, type Job, type StreamOutputResponse } from "@jobexec/proto";
import { initCertificates } from "../certificates/cert-files.ts";
import type { Credentials } from "../certificates/certificates.ts";
import { createLogger } from "../log.ts";
import { startServer, type RunningServer, type ServerConfig } from "../server.ts";
import { testCgroupParent } from "./cgroup-parent.ts";
import { createPki, type Pki } from "./pki.ts";
import { launchServer, listening } from "./test-process.ts";

/** The RPC protocols the server answers; "connect-http1" is Connect over HTTP/1.1, the rest use HTTP/2. */
export type Protocol = "grpc" | "grpc-web" | "connect" | "connect-http1";

export interface TestServer {
  server: RunningServer;
  pki: Pki;
  dir: string;
  cgroupParent: string;
  /** JSON log lines written so far. */
  logs: Record<string, unknown>[];
  transport(who: Credentials, protocol?: Protocol): Transport;
  jobs(who: Credentials, protocol?: Protocol): Client<typeof JobService>;
  health(who?: Credentials): Client<typeof Health>;
  close(): Promise<void>;
}

/** `base` is where its directory is made (default the temp directory; a private /tmp hides that from jobs). */
export async function startTestServer({ base, ...options }: Partial<ServerConfig> & { pki?: Pki; base?: string } = {}): Promise<TestServer> {
  const pki = options.pki ?? (await createPki());
  const dir = await mkdtemp(join(base ?? tmpdir(), "jobexec-server-test-"));
  // Jobs run as dynamic accounts, which must pass through the data directory's parent to their homes.
  await chmod(dir, 0o711);
  const cgroupParent = options.cgroupParent ?? testCgroupParent();
  const logs: Record<string, unknown>[] = [];
  const log = createLogger("debug", { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) });
  const server = await startServer({
    port: 0,
    tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca.cert },
    dataDir: join(dir, "data"),
    cgroupParent,
    defaultGraceMs: 1000,
    log,
    ...options,
  });
  const transport = (who: Credentials, protocol: Protocol = "grpc"): Transport => {
    const nodeOptions = { ca: pki.ca.cert, cert: who.cert, key: who.key };
    const baseUrl = server.url;
    switch (protocol) {
      case "grpc":
        return createGrpcTransport({ baseUrl, nodeOptions });
      case "grpc-web":
        return createGrpcWebTransport({ baseUrl, httpVersion: "2", nodeOptions });
      case "connect":
        return createConnectTransport({ baseUrl, httpVersion: "2", nodeOptions });
      case "connect-http1":
        return createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions });
    }
  };
  return {
    server,
    pki,
    dir,
    cgroupParent,
    logs,
    transport,
    jobs: (who, protocol) => createClient(JobService, transport(who, protocol)),
    health: (who = pki.alice) => createClient(Health, transport(who)),
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The output of a StreamOutput call: each stream's bytes, the final job, and whether the job came last. */
export interface StreamedOutput {
  stdout: Buffer;
  stderr: Buffer;
  job: Job | undefined;
  last: boolean;
}

/** Reads a StreamOutput call to its end. */
export async function readOutput(stream: AsyncIterable<StreamOutputResponse>): Promise<StreamedOutput> {
  const parts: Record<"stdout" | "stderr", Buffer[]> = { stdout: [], stderr: [] };
  let job: Job | undefined;
  let last = true;
  for await (const m of stream) {
    if (job) last = false;
    if (m.event.case === "chunk") parts[m.event.value.stream === OutputStream.STDERR ? "stderr" : "stdout"].push(Buffer.from(m.event.value.data));
    if (m.event.case === "job") job = m.event.value;
  }
  return { stdout: Buffer.concat(parts.stdout), stderr: Buffer.concat(parts.stderr), job, last };
}

/** The ConnectError a call fails with; fails the test if it succeeds. */
export async function failure(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (e) {
    return ConnectError.from(e);
  }
  assert.fail("the call must fail");
}

/** A jobexec-server child process (src/main.ts) on an ephemeral loopback port, as an operator runs it. */
export interface ServerProcess {
  proc: ChildProcess;
  /** https://127.0.0.1:PORT */
  url: string;
  port: number;
  /** The config directory `certs init` wrote: ca.pem, server.pem/.key, client.pem/.key (admin "tester"). */
  configDir: string;
  /** The server's JSON log lines so far. */
  logs: Record<string, unknown>[];
  /** The first log line with this message, once it is written. */
  logged(msg: string, ms?: number): Promise<Record<string, unknown>>;
  /** SIGTERM, then the exit code; removes the temp directory. */
  stop(): Promise<number | null>;
}

/**
 * Starts `jobexec-server --listen 127.0.0.1:0 ARGS` with fresh certificates (`certs init --user tester`), its own
 * data directory (reachable by jobs' accounts) and a unique cgroup parent; resolves once it listens. A failed start
 * rejects with its stderr.
 */
export async function startServerProcess(args: string[] = [], env: Record<string, string> = {}): Promise<ServerProcess> {
  const dir = await mkdtemp(join(tmpdir(), "jobexec-server-process-"));
  await chmod(dir, 0o711);
  const configDir = join(dir, "config");
  await initCertificates(configDir, { user: "tester" });
  const all = ["--listen", "127.0.0.1:0", "--data-dir", join(dir, "data"), "--cgroup-parent", testCgroupParent(), "--grace", "1s", ...args];
  const child = launchServer(all, { JOBEXEC_CONFIG_DIR: configDir, ...env });
  const logged = async (msg: string, ms = 30_000): Promise<Record<string, unknown>> => {
    const until = Date.now() + ms;
    for (;;) {
      const line = child.lines.find((l) => l.msg === msg);
      if (line) return line;
      if (child.proc.exitCode !== null || Date.now() > until) throw new Error(`jobexec-server did not log "${msg}": ${child.stderr.join("\n")}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const stop = async (): Promise<number | null> => {
    if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill("SIGTERM");
    const code = await child.exit;
    await rm(dir, { recursive: true, force: true });
    return code;
  };
  try {
    const { url } = await listening(child);
    const port = Number(new URL(url).port);
    return { proc: child.proc, url: `https://127.0.0.1:${port}`, port, configDir, logs: child.lines, logged, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
