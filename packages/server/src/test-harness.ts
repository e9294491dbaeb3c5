// Shared set-up of the server's tests: a throw-away PKI, an in-process server on an ephemeral port with its own
// data directory and cgroup parent, and real Connect clients. Not part of the build.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { Health, JobService, OutputStream, type Job, type StreamOutputResponse } from "@jobexec/proto";
import { createCa, issueCertificate, type Credentials } from "./certificates.ts";
import { createLogger } from "./log.ts";
import { startServer, type RunningServer, type ServerConfig } from "./server.ts";

export interface Pki {
  ca: Credentials;
  server: Credentials;
  alice: Credentials;
  bob: Credentials;
  admin: Credentials;
}

export async function createPki(): Promise<Pki> {
  const ca = await createCa("test CA");
  const [server, alice, bob, admin] = await Promise.all([
    issueCertificate(ca, { subject: { commonName: "jobexec-server" }, usage: "server", sans: ["localhost", "127.0.0.1", "::1"] }),
    issueCertificate(ca, { subject: { commonName: "alice" }, usage: "client" }),
    issueCertificate(ca, { subject: { commonName: "bob", organizationalUnit: "users" }, usage: "client" }),
    issueCertificate(ca, { subject: { commonName: "root", organizationalUnit: "admin" }, usage: "client" }),
  ]);
  return { ca, server, alice, bob, admin };
}

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

/** A unique cgroup parent: tests of several packages share this host's cgroup v2 hierarchy at once. */
export function testCgroupParent(): string {
  return `jobexec-test-${randomBytes(6).toString("hex")}`;
}

export async function startTestServer(options: Partial<ServerConfig> & { pki?: Pki } = {}): Promise<TestServer> {
  const pki = options.pki ?? (await createPki());
  const dir = await mkdtemp(join(tmpdir(), "jobexec-server-test-"));
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
