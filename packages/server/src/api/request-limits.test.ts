// Request limits: job command line and environment caps, oversized messages on every protocol, bounded log lines,
// and a client leaving mid-stream.
import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, test } from "node:test";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { HealthCheckResponse_ServingStatus, JobService, JobState } from "@jobexec/proto";
import { defaultLimits } from "../settings/limits.ts";
import { failure, readOutput, startTestServer, type TestServer } from "../test-support/test-harness.ts";
import { startServerProcess } from "../test-support/test-process.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

describe("request limits", { timeout: 180_000 }, () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  const healthy = async () => assert.equal((await t.health().check({})).status, HealthCheckResponse_ServingStatus.SERVING);

  test("program and args up to 128 KiB run (no E2BIG reaches spawn); one byte more is INVALID_ARGUMENT naming the limit", async () => {
    const alice = t.jobs(t.pki.alice);
    // "/bin/echo" and its NUL take 10 bytes, each argument its length + 1.
    const fill = (total: number) => ["x".repeat(total - 10 - 1)];
    const { job } = await alice.startJob({ program: "/bin/echo", args: fill(defaultLimits.maxArgsBytes) });
    assert.ok(job);
    const out = await readOutput(alice.streamOutput({ id: job.id, follow: true }));
    assert.equal(out.job?.state, JobState.EXITED, out.job?.failureReason);
    assert.equal(out.stdout.length, defaultLimits.maxArgsBytes - 11 + 1);
    const err = await failure(alice.startJob({ program: "/bin/echo", args: fill(defaultLimits.maxArgsBytes + 1) }));
    assert.equal(err.code, Code.InvalidArgument);
    assert.equal(err.rawMessage, "program and args take 131073 bytes, over the server's limit of 131072 bytes (--max-args-size; each string counted with a NUL)");
    // One argument of 200 KB, the case that used to end as INTERNAL "spawn E2BIG".
    assert.equal((await failure(alice.startJob({ program: "true", args: ["y".repeat(200_000)] }))).code, Code.InvalidArgument);
    await healthy();
  });

  test("env up to 128 KiB runs; more is INVALID_ARGUMENT naming the limit; names with control characters are refused", async () => {
    const alice = t.jobs(t.pki.alice);
    // "BIG=" + value + NUL.
    const { job } = await alice.startJob({ program: "/bin/sh", args: ["-c", 'printf %s "${#BIG}"'], env: { BIG: "v".repeat(defaultLimits.maxEnvBytes - 5) } });
    assert.ok(job);
    const out = await readOutput(alice.streamOutput({ id: job.id, follow: true }));
    assert.equal(out.stdout.toString(), String(defaultLimits.maxEnvBytes - 5));
    const over = await failure(alice.startJob({ program: "true", env: { BIG: "v".repeat(defaultLimits.maxEnvBytes - 4) } }));
    assert.equal(over.code, Code.InvalidArgument);
    assert.match(over.rawMessage, /^env takes 131073 bytes, over the server's limit of 131072 bytes \(--max-env-size/);
    for (const name of ["A\nB", "TAB\tNAME", "ESC\x1b", "DEL\x7f", "C1\u0085"]) {
      const err = await failure(alice.startJob({ program: "true", env: { [name]: "x" } }));
      assert.equal(err.code, Code.InvalidArgument, JSON.stringify(name));
      assert.match(err.rawMessage, /contains a control character$/);
    }
    // Values may hold newlines.
    const { job: multi } = await alice.startJob({ program: "/bin/sh", args: ["-c", 'printf %s "$V"'], env: { V: "a\nb" } });
    assert.ok(multi);
    assert.equal((await readOutput(alice.streamOutput({ id: multi.id, follow: true }))).stdout.toString(), "a\nb");
    await healthy();
  });

  test("oversized requests are RESOURCE_EXHAUSTED with the limit named, on gRPC, gRPC-Web and Connect, HTTP/2 and HTTP/1.1", async () => {
    // Node's own HTTP/2 client refuses to buffer more than maxSessionMemory (10 MB by default) and fails such a
    // request itself, before the server sees it: raised here so that the server's answer is what is tested.
    const nodeOptions = { ca: t.pki.ca.cert, cert: t.pki.alice.cert, key: t.pki.alice.key, maxSessionMemory: 256 };
    const baseUrl = t.server.url;
    const transports = {
      grpc: () => createGrpcTransport({ baseUrl, nodeOptions }),
      "grpc-web": () => createGrpcWebTransport({ baseUrl, httpVersion: "2", nodeOptions }),
      connect: () => createConnectTransport({ baseUrl, httpVersion: "2", nodeOptions }),
      "grpc-web over HTTP/1.1": () => createGrpcWebTransport({ baseUrl, httpVersion: "1.1", nodeOptions }),
      "connect over HTTP/1.1": () => createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions }),
    };
    for (const [protocol, transport] of Object.entries(transports)) {
      // One transport per protocol: the sizes follow each other on one kept-alive connection.
      const client = createClient(JobService, transport());
      for (const mb of [2, 10, 50]) {
        const err = await failure(client.startJob({ program: "true", args: ["x".repeat(mb * MiB)] }));
        assert.equal(err.code, Code.ResourceExhausted, `${protocol}, ${mb} MB: ${err.message}`);
        assert.match(err.rawMessage, /larger than configured readMaxBytes 1048576/, `${protocol}, ${mb} MB`);
      }
      assert.ok((await client.listJobs({})).jobs.length >= 0, `${protocol}: the connection still serves`);
    }
    // Server streaming (served by grpc-streaming.ts): a 2 MiB StreamOutput request.
    const streaming = createClient(JobService, transports.grpc());
    const err = await failure((async () => {
      for await (const _ of streaming.streamOutput({ id: "x".repeat(2 * MiB) }));
    })());
    assert.equal(err.code, Code.ResourceExhausted);
    await healthy();
  });

  test("a message whose envelope promises 100 MB is refused from its header, before its body is read", async () => {
    const session = http2.connect(t.server.url, { ca: t.pki.ca.cert, cert: t.pki.alice.cert, key: t.pki.alice.key });
    try {
      for (const path of ["/jobexec.v1.JobService/StartJob", "/jobexec.v1.JobService/StreamOutput"]) {
        const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
        const header = Buffer.alloc(5);
        header.writeUInt32BE(100 * MiB, 1);
        stream.write(header); // and nothing more: the stream stays open
        const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("trailers", (headers: http2.IncomingHttpHeaders) => resolve(headers)));
        assert.equal(trailers["grpc-status"], String(Code.ResourceExhausted), path);
        assert.match(decodeURIComponent(String(trailers["grpc-message"])), /message size 104857600 is larger than configured readMaxBytes 1048576/);
        stream.close();
      }
    } finally {
      session.close();
    }
  });

  test("garbage where a protobuf message should be is INVALID_ARGUMENT in gRPC, gRPC-Web and Connect, unary and streaming", async () => {
    // A raw HTTP/2 client: no protobuf library on this side would send these bytes.
    const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]);
    const enveloped = (flags: number, body: Buffer): Buffer => {
      const header = Buffer.alloc(5);
      header.writeUInt8(flags, 0);
      header.writeUInt32BE(body.length, 1);
      return Buffer.concat([header, body]);
    };
    const session = http2.connect(t.server.url, { ca: t.pki.ca.cert, cert: t.pki.alice.cert, key: t.pki.alice.key });
    const call = async (method: string, headers: http2.OutgoingHttpHeaders, body: Buffer) => {
      const stream = session.request({ ":method": "POST", ":path": `/jobexec.v1.JobService/${method}`, te: "trailers", ...headers });
      const chunks: Buffer[] = [];
      let head: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      stream.on("response", (h) => (head = h));
      stream.on("trailers", (h) => (trailers = h));
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.end(body);
      await new Promise((resolve) => stream.once("close", resolve));
      return { status: head[":status"], grpcStatus: trailers["grpc-status"] ?? head["grpc-status"], body: Buffer.concat(chunks) };
    };
    const message = /parse binary: illegal tag/;
    try {
      for (const method of ["StartJob", "StreamOutput"]) {
        const grpc = await call(method, { "content-type": "application/grpc" }, enveloped(0, garbage));
        assert.equal(grpc.grpcStatus, String(Code.InvalidArgument), `${method} gRPC`);
        // gRPC-Web: the status is in the trailer frame (flag 0x80) at the end of the body.
        const web = await call(method, { "content-type": "application/grpc-web+proto" }, enveloped(0, garbage));
        assert.match(web.body.subarray(5).toString(), new RegExp(`grpc-status: ${Code.InvalidArgument}\r\n`), `${method} gRPC-Web`);
        assert.match(decodeURIComponent(web.body.toString()), message);
      }
      const unary = await call("StartJob", { "content-type": "application/proto", "connect-protocol-version": "1" }, garbage);
      assert.equal(unary.status, 400);
      assert.deepEqual(Object.keys(JSON.parse(unary.body.toString()) as object), ["code", "message"]);
      assert.equal((JSON.parse(unary.body.toString()) as { code: string }).code, "invalid_argument");
      assert.match(unary.body.toString(), message);
      // Connect streaming: the error is in the end-of-stream message (flag 0x02).
      const streaming = await call("StreamOutput", { "content-type": "application/connect+proto", "connect-protocol-version": "1" }, enveloped(0, garbage));
      assert.equal(streaming.body[0], 0x02);
      assert.equal((JSON.parse(streaming.body.subarray(5).toString()) as { error: { code: string } }).error.code, "invalid_argument");
    } finally {
      session.close();
    }
    await healthy();
  });

  test("client-supplied strings are clipped in log lines: a 900 KB job id makes a short line", async () => {
    const seen = t.logs.length;
    const id = "a".repeat(900_000);
    assert.equal((await failure(t.jobs(t.pki.alice).getJob({ id }))).code, Code.InvalidArgument);
    assert.equal((await failure(t.jobs(t.pki.alice).startJob({ program: "p".repeat(4000) }))).code, Code.InvalidArgument);
    const lines = t.logs.slice(seen).map((l) => JSON.stringify(l));
    assert.ok(lines.length >= 2);
    for (const line of lines) assert.ok(line.length < 1000, `a log line of ${line.length} characters`);
    assert.ok(lines.some((l) => l.includes(`"job":"${"a".repeat(40)}…(+${900_000 - 40} chars)"`)), lines.join("\n"));
  });
});

describe("a client leaving mid-stream (jobexec-server process)", { timeout: 60_000 }, () => {
  test("is one debug line at most, never a stack trace on stderr, on every protocol", async () => {
    const s = await startServerProcess();
    try {
      const alice = s.jobs(s.pki.alice);
      const { job } = await alice.startJob({ program: "/bin/sh", args: ["-c", "while :; do echo tick; sleep 0.01; done"] });
      assert.ok(job);
      const nodeOptions = { ca: s.pki.ca.cert, cert: s.pki.alice.cert, key: s.pki.alice.key };
      const transports = [
        createGrpcTransport({ baseUrl: s.url, nodeOptions }),
        createGrpcWebTransport({ baseUrl: s.url, httpVersion: "2", nodeOptions }),
        createConnectTransport({ baseUrl: s.url, httpVersion: "2", nodeOptions }),
        createConnectTransport({ baseUrl: s.url, httpVersion: "1.1", nodeOptions }),
      ];
      for (const transport of transports) {
        const leaving = new AbortController();
        let chunks = 0;
        await failure((async () => {
          for await (const _ of createClient(JobService, transport).streamOutput({ id: job.id, follow: true }, { signal: leaving.signal })) {
            if (++chunks === 5) leaving.abort();
          }
        })());
      }
      await alice.stopJob({ id: job.id, gracePeriod: {} });
      await s.waitForLog(() => s.lines.filter((l) => l.msg === "rpc" && l.method === "jobexec.v1.JobService/StreamOutput").length >= 4, 10_000);
      const streams = s.lines.filter((l) => l.msg === "rpc" && l.method === "jobexec.v1.JobService/StreamOutput");
      assert.deepEqual(streams.map((l) => l.code), ["canceled", "canceled", "canceled", "canceled"]);
      assert.deepEqual(s.stderr.filter((line) => !line.startsWith("{")), [], "nothing but JSON lines on stderr");
      assert.deepEqual(s.lines.filter((l) => l.level === "error" || l.level === "warn"), []);
      const gone = s.lines.filter((l) => l.msg === "client went away before its response was written");
      assert.ok(gone.length <= 4 && gone.every((l) => l.level === "debug"), JSON.stringify(gone));
    } finally {
      await s.stop();
    }
  });
});
