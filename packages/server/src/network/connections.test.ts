// Connection limits, timeouts and keep-alive against a real jobexec-server process on loopback.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import http2 from "node:http2";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { HealthCheckResponse_ServingStatus, JobState } from "@jobexec/proto";
import type { Pki } from "../test-support/pki.ts";
import { failure, readOutput } from "../test-support/test-harness.ts";
import { startServerProcess, type Connection, type ServerProcess } from "../test-support/test-process.ts";

const SERVING = HealthCheckResponse_ServingStatus.SERVING;

/** Opens `n` connections of one identity, each proven open by a health check. */
async function hold(s: ServerProcess, who: Pki["alice"], n: number): Promise<Connection[]> {
  const connections = Array.from({ length: n }, () => s.connection(who));
  await Promise.all(connections.map((c) => c.health.check({})));
  return connections;
}

async function timed<T>(call: () => Promise<T>): Promise<[T, number]> {
  const began = performance.now();
  const result = await call();
  return [result, performance.now() - began];
}

function noErrorsLogged(s: ServerProcess): void {
  const bad = s.stderr.filter((line) => /EMFILE|ENFILE/.test(line) || !line.startsWith("{"));
  assert.deepEqual(bad, [], "no EMFILE and nothing but JSON log lines on stderr");
  assert.deepEqual(s.lines.filter((l) => l.level === "error"), [], "no error logged");
}

describe("connection limits and timeouts (jobexec-server process)", { timeout: 180_000 }, () => {
  test("per identity: the limit + 1st connection is refused at once with a sentence; other identities are served meanwhile", async () => {
    const s = await startServerProcess({ args: ["--max-connections-per-identity", "20"] });
    try {
      const held = await hold(s, s.pki.alice, 20);
      const [err, refusedMs] = await timed(() => failure(s.connection(s.pki.alice).health.check({})));
      assert.equal(err.code, Code.ResourceExhausted, err.rawMessage);
      assert.equal(err.rawMessage, "too many connections: alice already has 20 open, the most one identity may have; close some or reuse them");
      // Meanwhile bob connects and is answered.
      const [bobs, bobMs] = await timed(() => s.connection(s.pki.bob).health.check({}));
      assert.equal(bobs.status, SERVING);
      // And while alice keeps trying (a bounded burst of 100 refused connections from this process, whose own
      // handshakes share its CPU with bob's call).
      const burst = Promise.all(Array.from({ length: 100 }, () => failure(s.connection(s.pki.alice).health.check({}))));
      const [bobsAgain, burstMs] = await timed(() => s.connection(s.pki.bob).health.check({}));
      const refusals = await burst;
      assert.equal(bobsAgain.status, SERVING);
      assert.ok(refusals.every((e) => e.code === Code.ResourceExhausted));
      console.log(`# alice's 21st connection refused in ${refusedMs.toFixed(1)} ms; bob's health check on a new connection: ${bobMs.toFixed(1)} ms, during 100 refusals ${burstMs.toFixed(1)} ms`);
      // Alice's open connections are unaffected; closing one makes room for a new one.
      await Promise.all(held.map(async (c) => assert.equal((await c.health.check({})).status, SERVING)));
      held[0]?.close();
      let admitted = false;
      for (let i = 0; i < 50 && !admitted; i++) {
        admitted = await s.connection(s.pki.alice).health.check({}).then(() => true, () => false);
        if (!admitted) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(admitted, "a connection closed makes room for another");
      // Refusals are logged once per interval with a count, not once per connection.
      const lines = s.lines.filter((l) => l.msg === "connections refused: over a connection limit");
      assert.ok(lines.length >= 1 && lines.length <= 2, `${lines.length} log lines for 101 refusals`);
      assert.equal(lines[0]?.count, 1);
      for (const c of held) c.close();
      noErrorsLogged(s);
    } finally {
      await s.stop();
    }
  });

  test("in total: non-admins are refused beyond --max-connections, an admin still checks health and runs a job", async () => {
    const s = await startServerProcess({ args: ["--max-connections", "10"] });
    try {
      const held = [...(await hold(s, s.pki.alice, 6)), ...(await hold(s, s.pki.bob, 4))];
      const err = await failure(s.connection(s.pki.bob).health.check({}));
      assert.equal(err.code, Code.ResourceExhausted);
      assert.equal(err.rawMessage, "the server has 10 connections open, as many as it takes from clients; try again later");
      const admin = s.connection(s.pki.admin);
      const [health, ms] = await timed(() => admin.health.check({}));
      assert.equal(health.status, SERVING);
      const { job } = await admin.jobs.startJob({ program: "echo", args: ["admin's job"] });
      assert.ok(job);
      const out = await readOutput(admin.jobs.streamOutput({ id: job.id, follow: true }));
      assert.equal(out.stdout.toString(), "admin's job\n");
      assert.equal(out.job?.state, JobState.EXITED);
      console.log(`# with 10 client connections held, the admin's health check took ${ms.toFixed(1)} ms`);
      for (const c of [...held, admin]) c.close();
      noErrorsLogged(s);
    } finally {
      await s.stop();
    }
  });

  test("sockets beyond the limit plus the admins' headroom are closed on accept, without a handshake", async () => {
    const s = await startServerProcess({ args: ["--max-connections", "4", "--handshake-timeout", "30s"] });
    const sockets = [];
    try {
      // 4 + 32 (ADMIN_HEADROOM) raw TCP connections that never handshake take every socket the server accepts.
      for (let i = 0; i < 36; i++) {
        const socket = netConnect(s.port, "127.0.0.1");
        await once(socket, "connect");
        sockets.push(socket);
      }
      const extra = netConnect(s.port, "127.0.0.1");
      const [, ms] = await timed(() => once(extra, "close"));
      console.log(`# the 37th socket was closed after ${ms.toFixed(1)} ms`);
      await s.waitForLog((l) => l.msg === "connections refused: the server has as many sockets open as it accepts");
      for (const socket of sockets) socket.destroy();
      // Once they are gone, clients connect again.
      let served = false;
      for (let i = 0; i < 50 && !served; i++) {
        served = await s.connection(s.pki.alice).health.check({}).then(() => true, () => false);
        if (!served) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(served);
      noErrorsLogged(s);
    } finally {
      for (const socket of sockets) socket.destroy();
      await s.stop();
    }
  });

  test("a low open-file limit lowers the connection limit: clients cannot make the server hit EMFILE, admins still start jobs", async () => {
    const s = await startServerProcess({ wrap: ["prlimit", "--nofile=256:256", "--"], args: ["--max-connections-per-identity", "1000"] });
    const held: Connection[] = [];
    try {
      const lowered = await s.waitForLog((l) => l.msg === "max connections lowered to fit the open-file limit");
      assert.equal(lowered.openFileLimit, 256);
      const max = Number(lowered.maxConnections);
      assert.equal(max, 256 - 64 - 32, "a quarter of the limit reserved, and the admins' headroom");
      // More connections than the server may take, in bounded waves.
      let refused = 0;
      for (let wave = 0; wave < 4; wave++) {
        const batch = Array.from({ length: 50 }, () => s.connection(s.pki.alice));
        const results = await Promise.all(batch.map((c) => c.health.check({}).then(() => true, () => false)));
        // (Refused connections are left for the server to close.)
        results.forEach((ok, i) => (ok ? held.push(batch[i] as Connection) : refused++));
      }
      assert.ok(held.length <= max, `${held.length} admitted, at most ${max}`);
      assert.ok(refused >= 200 - max, `${refused} refused`);
      assert.ok(s.openFds() < 256, `the server has ${s.openFds()} descriptors open`);
      // Refused connections linger briefly (REFUSED_LINGER_FULL_MS) for their calls' answers; then, with clients
      // holding every connection they may, the admins' headroom is free.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const admin = s.connection(s.pki.admin);
      assert.equal((await admin.health.check({})).status, SERVING);
      const { job } = await admin.jobs.startJob({ program: "sh", args: ["-c", "echo started"] });
      assert.ok(job);
      const out = await readOutput(admin.jobs.streamOutput({ id: job.id, follow: true }));
      assert.equal(out.stdout.toString(), "started\n");
      console.log(`# open-file limit 256: ${held.length} client connections admitted, ${refused} refused; the admin's job ran; server fds ${s.openFds()}`);
      admin.close();
      noErrorsLogged(s);
    } finally {
      for (const c of held) c.close();
      await s.stop();
    }
  });

  test("an idle connection is closed with a GOAWAY after the idle timeout; one with an open call is not", async () => {
    const s = await startServerProcess({ args: ["--idle-timeout", "300ms"] });
    try {
      const session = http2.connect(s.url, { ca: s.pki.ca.cert, cert: s.pki.alice.cert, key: s.pki.alice.key });
      const began = performance.now();
      const [code] = (await once(session, "goaway")) as [number];
      const ms = performance.now() - began;
      assert.equal(code, http2.constants.NGHTTP2_NO_ERROR);
      await once(session, "close");
      console.log(`# an idle connection got its GOAWAY after ${ms.toFixed(0)} ms (idle timeout 300 ms)`);

      const busy = s.connection(s.pki.alice);
      const { job } = await busy.jobs.startJob({ program: "sh", args: ["-c", "echo first; sleep 1.5; echo second"] });
      assert.ok(job);
      // Following for 1.5 s, five times the idle timeout: the connection stays.
      const out = await readOutput(busy.jobs.streamOutput({ id: job.id, follow: true }));
      assert.equal(out.stdout.toString(), "first\nsecond\n");
      await s.waitForLog((l) => l.msg === "idle connection closed");
      busy.close();
    } finally {
      await s.stop();
    }
  });

  test("a TLS handshake that never completes is closed after the handshake timeout", async () => {
    const s = await startServerProcess({ args: ["--handshake-timeout", "300ms"] });
    try {
      const silent = netConnect(s.port, "127.0.0.1");
      await once(silent, "connect");
      const [, silentMs] = await timed(() => once(silent, "close"));
      // A partial ClientHello: a TLS record header promising more than is sent.
      const partial = netConnect(s.port, "127.0.0.1");
      await once(partial, "connect");
      partial.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
      const [, partialMs] = await timed(() => once(partial, "close"));
      console.log(`# silent socket closed after ${silentMs.toFixed(0)} ms, partial ClientHello after ${partialMs.toFixed(0)} ms (timeout 300 ms)`);
      assert.ok(silentMs < 5000 && partialMs < 5000, "closed by the server, long before the client would give up");
      const line = await s.waitForLog((l) => l.msg === "tls handshake failed", 5000);
      assert.match(String(line.error), /timeout|timed out/i);
    } finally {
      await s.stop();
    }
  });

  test("keep-alive: a silent connection is pinged; a peer that stops answering is dropped", async () => {
    const s = await startServerProcess({ args: ["--keepalive-time", "200ms", "--keepalive-timeout", "300ms", "--idle-timeout", "0"] });
    const pki = s.pki;
    try {
      const session = http2.connect(s.url, { ca: pki.ca.cert, cert: pki.alice.cert, key: pki.alice.key });
      let pings = 0;
      session.on("ping", () => pings++);
      await new Promise((resolve) => setTimeout(resolve, 1200));
      assert.ok(pings >= 2, `${pings} pings in 1.2 s`);
      assert.equal(session.closed || session.destroyed, false, "a peer that answers stays connected");
      session.destroy();

      // A client process that holds a Watch stream, then is stopped (SIGSTOP): the kernel still acknowledges TCP,
      // but nobody answers the server's PINGs.
      const dir = s.dataDir.replace(/\/data$/, "");
      for (const [name, pem] of [["alice.pem", pki.alice.cert], ["alice.key", pki.alice.key], ["ca.pem", pki.ca.cert]] as const) writeFileSync(join(dir, name), pem);
      const code = `
        import http2 from "node:http2"; import { readFileSync } from "node:fs";
        const f = (n) => readFileSync(${JSON.stringify(dir)} + "/" + n);
        const session = http2.connect(${JSON.stringify(s.url)}, { ca: f("ca.pem"), cert: f("alice.pem"), key: f("alice.key") });
        const stream = session.request({ ":method": "POST", ":path": "/grpc.health.v1.Health/Watch", "content-type": "application/grpc", te: "trailers" });
        stream.once("data", () => process.stdout.write("watching\\n"));
        stream.end(Buffer.alloc(5));`;
      const client = spawn(process.execPath, ["--input-type=module", "--eval", code], { stdio: ["ignore", "pipe", "inherit"] });
      try {
        await once(client.stdout, "data");
        const dropped = s.lines.length;
        client.kill("SIGSTOP");
        const began = performance.now();
        await s.waitForLog((l) => l.msg === "connection closed: keep-alive ping not answered" && s.lines.indexOf(l) >= dropped, 10_000);
        console.log(`# a stopped client was dropped ${(performance.now() - began).toFixed(0)} ms after it stopped (keep-alive 200 ms + 300 ms)`);
      } finally {
        client.kill("SIGKILL");
        await once(client, "exit");
      }
    } finally {
      await s.stop();
    }
  });
});
