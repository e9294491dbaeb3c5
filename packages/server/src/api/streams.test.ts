// Stream limits against a real jobexec-server process: per connection (HTTP/2 SETTINGS), per identity, and the
// server heap an idle follower costs.
import assert from "node:assert/strict";
import { once } from "node:events";
import http2 from "node:http2";
import { connect as tlsConnect } from "node:tls";
import { describe, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { JobState } from "@jobexec/proto";
import type { Pki } from "../test-support/pki.ts";
import { failure } from "../test-support/test-harness.ts";
import { startServerProcess, waitFor, type ServerProcess } from "../test-support/test-process.ts";

const KiB = 1024;

/** A raw HTTP/2 session with the given client certificate. */
function session(s: ServerProcess, who: Pki["alice"]): http2.ClientHttp2Session {
  return http2.connect(s.url, { ca: s.pki.ca.cert, cert: who.cert, key: who.key });
}

// HPACK "literal header field without indexing": a new name, or an indexed name of the static table (RFC 7541).
function literal(name: string | number, value: string): Buffer {
  const v = Buffer.from(value);
  if (typeof name === "number") return Buffer.concat([Buffer.from([name < 15 ? name : 0x0f, ...(name < 15 ? [] : [name - 15]), v.length]), v]);
  const n = Buffer.from(name);
  return Buffer.concat([Buffer.from([0, n.length]), n, Buffer.from([v.length]), v]);
}

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head.writeUInt8(type, 3);
  head.writeUInt8(flags, 4);
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/**
 * A client that ignores the server's SETTINGS_MAX_CONCURRENT_STREAMS: it opens `count` streams in its first flight
 * (HEADERS without END_STREAM, so each stays open) and reports the RST_STREAM codes it gets back.
 */
async function greedyClient(s: ServerProcess, count: number): Promise<{ refused: number; other: number[] }> {
  const socket = tlsConnect({ host: "127.0.0.1", port: s.port, ca: s.pki.ca.cert, cert: s.pki.alice.cert, key: s.pki.alice.key, ALPNProtocols: ["h2"], servername: "localhost" });
  await once(socket, "secureConnect");
  const headers = Buffer.concat([
    Buffer.from([0x83, 0x87]), // :method POST, :scheme https
    literal(4, "/grpc.health.v1.Health/Watch"), // :path
    literal(1, "localhost"), // :authority
    literal(31, "application/grpc"), // content-type
    literal("te", "trailers"),
  ]);
  const flight = [Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), frame(0x4, 0, 0, Buffer.alloc(0))];
  for (let i = 0; i < count; i++) flight.push(frame(0x1, 0x4, 1 + 2 * i, headers));
  socket.write(Buffer.concat(flight));
  let buffer = Buffer.alloc(0);
  let refused = 0;
  const other: number[] = [];
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2000);
    socket.on("data", (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      while (buffer.length >= 9) {
        const length = buffer.readUIntBE(0, 3);
        if (buffer.length < 9 + length) break;
        const [type, flags] = [buffer.readUInt8(3), buffer.readUInt8(4)];
        const payload = buffer.subarray(9, 9 + length);
        buffer = buffer.subarray(9 + length);
        if (type === 0x4 && (flags & 0x1) === 0) socket.write(frame(0x4, 0x1, 0, Buffer.alloc(0)));
        if (type === 0x3) {
          const code = payload.readUInt32BE(0);
          if (code === http2.constants.NGHTTP2_REFUSED_STREAM) refused++;
          else other.push(code);
        }
      }
      if (refused + other.length >= count - 100) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await done;
  socket.destroy();
  return { refused, other };
}

describe("stream limits (jobexec-server process)", { timeout: 300_000 }, () => {
  test("100 concurrent streams per connection are advertised; a client queues more, and one that ignores it is refused", async () => {
    const s = await startServerProcess();
    try {
      const conn = session(s, s.pki.alice);
      await once(conn, "remoteSettings");
      assert.equal(conn.remoteSettings.maxConcurrentStreams, 100);
      conn.destroy();
      // 130 followers on one connection: 100 are served at once, the client queues 30 until the first 100 end.
      const alice = s.jobs(s.pki.alice);
      const { job } = await alice.startJob({ program: "sh", args: ["-c", "echo start; sleep 2; echo end"] });
      assert.ok(job);
      let first = 0;
      const followers = Array.from({ length: 130 }, async () => {
        let text = "";
        let last: string | undefined;
        for await (const m of alice.streamOutput({ id: job.id, follow: true })) {
          if (m.event.case === "chunk") {
            if (text === "") first++;
            text += Buffer.from(m.event.value.data).toString();
          }
          last = m.event.case;
        }
        return { text, last };
      });
      await waitFor(() => (first >= 100 ? true : undefined), 10_000, "100 followers' first chunk");
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(first, 100, "no more than 100 streams at once on the connection");
      for (const out of await Promise.all(followers)) assert.deepEqual(out, { text: "start\nend\n", last: "job" });
      // A client that opens 130 streams in its first flight has those beyond 100 reset (RFC 9113 5.1.2).
      const greedy = await greedyClient(s, 130);
      console.log(`# greedy client: ${greedy.refused} of 130 streams refused with REFUSED_STREAM, other resets: ${JSON.stringify(greedy.other)}`);
      assert.equal(greedy.refused, 30);
      // The server is unaffected.
      assert.equal((await s.health(s.pki.bob).check({})).status, 1);
    } finally {
      await s.stop();
    }
  });

  test("open streaming calls per identity: the limit + 1st is RESOURCE_EXHAUSTED, others are served, an ended one makes room", async () => {
    const s = await startServerProcess({ args: ["--max-streams-per-identity", "5"] });
    try {
      const alice = s.jobs(s.pki.alice);
      const { job } = await alice.startJob({ program: "sh", args: ["-c", "echo ready; exec sleep 600"] });
      assert.ok(job);
      const aborts = Array.from({ length: 4 }, () => new AbortController());
      const iterators = aborts.map((ac) => alice.streamOutput({ id: job.id, follow: true }, { signal: ac.signal })[Symbol.asyncIterator]());
      await Promise.all(iterators.map((it) => it.next()));
      // A Health/Watch call counts as well: the fifth.
      const watching = new AbortController();
      const watcher = s.health(s.pki.alice).watch({}, { signal: watching.signal })[Symbol.asyncIterator]();
      await watcher.next();
      const err = await failure((async () => {
        for await (const _ of alice.streamOutput({ id: job.id, follow: true }));
      })());
      assert.equal(err.code, Code.ResourceExhausted);
      assert.equal(err.rawMessage, "too many open streams: alice has 5 StreamOutput and Watch calls open, the most one identity may have; end some first");
      // Bob is not affected, and unary calls of alice are not either.
      const bobs = s.jobs(s.pki.bob);
      const { job: bobJob } = await bobs.startJob({ program: "echo", args: ["bob"] });
      assert.ok(bobJob);
      for await (const _ of bobs.streamOutput({ id: bobJob.id, follow: true }));
      assert.equal((await alice.getJob({ id: job.id })).job?.id, job.id);
      // One ends; a new one is admitted.
      aborts[0]?.abort();
      await iterators[0]?.next().catch(() => undefined);
      let admitted = false;
      for (let i = 0; i < 50 && !admitted; i++) {
        const ac = new AbortController();
        admitted = await alice.streamOutput({ id: job.id, follow: true }, { signal: ac.signal })[Symbol.asyncIterator]().next().then(() => true, () => false);
        ac.abort();
        if (!admitted) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(admitted);
      for (const ac of [...aborts, watching]) ac.abort();
      await alice.stopJob({ id: job.id, gracePeriod: {} });
    } finally {
      await s.stop();
    }
  });

  test("1000 idle followers: the server heap per follower is at most 16 KiB, and no file descriptor", async () => {
    const s = await startServerProcess({ nodeArgs: ["--expose-gc"] });
    try {
      const owner = s.jobs(s.pki.alice);
      const { job } = await owner.startJob({ program: "sh", args: ["-c", "echo ready; exec sleep 600"] });
      assert.ok(job);
      // Ten connections (100 streams each), warmed up by one follower each, then the baseline.
      const clients = Array.from({ length: 10 }, () => s.jobs(s.pki.alice));
      const warm = new AbortController();
      await Promise.all(clients.map(async (c) => {
        for await (const _ of c.streamOutput({ id: job.id, follow: true }, { signal: warm.signal })) break;
      }));
      // (Leaving the loop does not cancel a connect-node call; aborting its signal does.)
      warm.abort();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const before = await s.heap();
      const fdsBefore = s.openFds();
      const stop = new AbortController();
      // Each follower has its first chunk ("ready"), then waits for output that never comes.
      await Promise.all(Array.from({ length: 1000 }, async (_, i) => {
        const it = (clients[i % 10] ?? owner).streamOutput({ id: job.id, follow: true }, { signal: stop.signal })[Symbol.asyncIterator]();
        assert.equal((await it.next()).done, false);
      }));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const during = await s.heap();
      const fdsDuring = s.openFds();
      const heapPer = (during.heapUsed - before.heapUsed) / 1000;
      const rssPer = (during.rss - before.rss) / 1000;
      console.log(`# 1000 idle followers: server heap +${(heapPer / KiB).toFixed(1)} KiB each, RSS +${(rssPer / KiB).toFixed(1)} KiB each; descriptors ${fdsBefore} -> ${fdsDuring}`);
      assert.ok(heapPer <= 16 * KiB, `${heapPer.toFixed(0)} bytes of heap per idle follower`);
      assert.ok(fdsDuring <= fdsBefore + 2, "followers share the job's output files");
      stop.abort();
      await owner.stopJob({ id: job.id, gracePeriod: {} });
    } finally {
      await s.stop();
    }
  });

  test("a stalled follower of a 64 MiB output holds O(one chunk) of server memory while another reads it all", async () => {
    const s = await startServerProcess({ nodeArgs: ["--expose-gc"] });
    try {
      const size = 64 * 2 ** 20;
      const alice = s.jobs(s.pki.alice);
      const { job } = await alice.startJob({ program: "head", args: ["-c", String(size), "/dev/zero"] });
      assert.ok(job);
      for (let i = 0; i < 600 && (await alice.getJob({ id: job.id })).job?.state !== JobState.EXITED; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      const before = await s.heap();
      // One connection each: on one connection HTTP/2's connection window couples the streams.
      const stalled = s.jobs(s.pki.alice).streamOutput({ id: job.id, follow: true })[Symbol.asyncIterator]();
      const first = await stalled.next();
      let fast = 0;
      for await (const m of s.jobs(s.pki.alice).streamOutput({ id: job.id, follow: true })) if (m.event.case === "chunk") fast += m.event.value.data.length;
      assert.equal(fast, size);
      const during = await s.heap();
      const held = during.heapUsed + during.arrayBuffers - (before.heapUsed + before.arrayBuffers);
      console.log(`# server memory with one follower stalled after its first message: +${(held / 2 ** 20).toFixed(1)} MiB`);
      // Two chunks (one being sent, one read ahead) and the read buffers the pool keeps (8 MiB): not the output.
      assert.ok(held < 16 * 2 ** 20, `${held} bytes held`);
      let received = first.value?.event.case === "chunk" ? first.value.event.value.data.length : 0;
      for (let m = await stalled.next(); !m.done; m = await stalled.next()) if (m.value.event.case === "chunk") received += m.value.event.value.data.length;
      assert.equal(received, size, "the stalled follower still gets every byte");
    } finally {
      await s.stop();
    }
  });

  test("a stalled follower never blocks the job: it writes 64 MiB and exits while the follower holds its first message", async () => {
    const s = await startServerProcess();
    try {
      const size = 64 * 2 ** 20;
      const alice = s.jobs(s.pki.alice);
      const { job } = await alice.startJob({ program: "sh", args: ["-c", `echo start; sleep 1; head -c ${size} /dev/zero`] });
      assert.ok(job);
      const stalled = s.jobs(s.pki.alice).streamOutput({ id: job.id, follow: true })[Symbol.asyncIterator]();
      const first = await stalled.next();
      assert.equal(first.value?.event.case, "chunk");
      // The follower is attached before the bulk is written, and reads nothing more until the job has ended.
      let ended = (await alice.getJob({ id: job.id })).job;
      for (let i = 0; i < 600 && ended?.state === JobState.RUNNING; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        ended = (await alice.getJob({ id: job.id })).job;
      }
      assert.equal(ended?.state, JobState.EXITED);
      assert.equal(ended?.exitCode, 0);
      assert.equal(ended?.output?.stdoutBytes, BigInt(size + 6));
      let received = first.value?.event.case === "chunk" ? first.value.event.value.data.length : 0;
      for (let m = await stalled.next(); !m.done; m = await stalled.next()) if (m.value.event.case === "chunk") received += m.value.event.value.data.length;
      assert.equal(received, size + 6);
    } finally {
      await s.stop();
    }
  });
});
