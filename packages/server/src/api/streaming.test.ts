import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { JobState, type Job, type StreamOutputResponse } from "@jobexec/proto";
import { readOutput, startTestServer, type Protocol, type TestServer } from "../test-support/test-harness.ts";

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

async function settle(check: () => boolean, ms = 15_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await sleep(50);
  }
  return check();
}

describe("StreamOutput", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  test("without follow, a running job's stream ends at the current output with its RUNNING status", async () => {
    const alice = t.jobs(t.pki.alice);
    const { job } = await alice.startJob({ program: "/bin/sh", args: ["-c", "echo first; exec sleep 1000"] });
    assert.ok(job);
    const written = async () => (await alice.getJob({ id: job.id })).job?.output?.stdoutBytes ?? 0n;
    for (let i = 0; i < 300 && (await written()) < 6n; i++) await sleep(50);
    const out = await readOutput(alice.streamOutput({ id: job.id }));
    assert.equal(out.stdout.toString(), "first\n");
    assert.equal(out.job?.state, JobState.RUNNING);
    await alice.stopJob({ id: job.id, gracePeriod: {} });
  });

  test("cancelled streams give the server's file descriptors back", async () => {
    const alice = t.jobs(t.pki.alice);
    const { job } = await alice.startJob({ program: "/bin/sh", args: ["-c", "while :; do echo tick; sleep 0.05; done"] });
    assert.ok(job);
    // Warm up the connection and the job's output files, then take the baseline.
    const warm = new AbortController();
    for await (const _ of alice.streamOutput({ id: job.id, follow: true }, { signal: warm.signal })) break;
    await settle(() => false, 300);
    // The standby this start took is replaced first: its pipes would count against the streams.
    const pool = () => t.server.manager.standbys;
    assert.ok(await settle(() => pool().idle === pool().target && pool().starting === 0));
    const baseline = openFds();
    const controllers = Array.from({ length: 20 }, () => new AbortController());
    const firsts = controllers.map(async (c) => {
      const it = alice.streamOutput({ id: job.id, follow: true }, { signal: c.signal })[Symbol.asyncIterator]();
      await it.next();
      return it;
    });
    const iterators = await Promise.all(firsts);
    const during = openFds();
    for (const c of controllers) c.abort();
    await Promise.allSettled(iterators.map((it) => it.next()));
    const back = await settle(() => openFds() <= baseline);
    console.log(`    open fds: baseline ${baseline}, with 20 followers ${during}, after cancel ${openFds()}`);
    assert.ok(back, `fds back to ${baseline}, now ${openFds()}`);
    const cancelled = await settle(() => t.logs.filter((l) => l.method === "jobexec.v1.JobService/StreamOutput" && l.code === "canceled").length >= 20);
    assert.ok(cancelled, "each cancelled stream is logged as canceled");
    await alice.stopJob({ id: job.id, gracePeriod: {} });
  });

  test("200 concurrent followers of one job on one connection get byte-identical output", async () => {
    const alice = t.jobs(t.pki.alice);
    const { job } = await alice.startJob({ program: "/bin/sh", args: ["-c", "seq 1 10000; sleep 1; seq 10001 20000"] });
    assert.ok(job);
    const expected = Buffer.concat([execFileSync("seq", ["1", "20000"])]);
    const began = performance.now();
    const outs = await Promise.all(Array.from({ length: 200 }, () => readOutput(alice.streamOutput({ id: job.id, follow: true }))));
    const ms = performance.now() - began;
    console.log(`    200 followers x ${expected.length} bytes in ${Math.round(ms)} ms (${((200 * expected.length) / 1e6 / (ms / 1000)).toFixed(1)} MB/s)`);
    for (const out of outs) {
      assert.ok(out.stdout.equals(expected));
      assert.equal(out.job?.state, JobState.EXITED);
      assert.ok(out.last);
    }
  });

  test("a stalled client holds back only its own stream and still gets every byte", async () => {
    // Two clients, two connections: on one connection HTTP/2's connection-level window couples all its streams.
    const size = 8 * 1024 * 1024;
    const { job } = await t.jobs(t.pki.alice).startJob({ program: "head", args: ["-c", String(size), "/dev/zero"] });
    assert.ok(job);
    const rss = process.memoryUsage().rss;
    const fast = readOutput(t.jobs(t.pki.alice).streamOutput({ id: job.id, follow: true }));
    // The stalled client takes one message, then reads nothing until the other client has everything.
    const stalled = t.jobs(t.pki.alice).streamOutput({ id: job.id, follow: true })[Symbol.asyncIterator]();
    const first = await stalled.next();
    const fastOut = await fast;
    assert.equal(fastOut.stdout.length, size);
    assert.equal(fastOut.job?.state, JobState.EXITED);
    const peakRss = process.memoryUsage().rss;
    let received = first.value?.event.case === "chunk" ? first.value.event.value.data.length : 0;
    for (let m = await stalled.next(); !m.done; m = await stalled.next()) {
      if (m.value.event.case === "chunk") received += m.value.event.value.data.length;
    }
    console.log(`    8 MiB: the other client finished while one was stalled; rss +${Math.round((peakRss - rss) / 1e6)} MB meanwhile`);
    assert.equal(received, size);
  });

  test("gRPC followers served together: 50 in step get identical bytes, a stalled one holds back neither them nor the job, a late one starts at its offset", async () => {
    const flag = join(t.dir, `go-${Date.now()}`);
    const alice = t.jobs(t.pki.alice);
    const { job } = await alice.startJob({ program: "/bin/sh", args: ["-c", `seq 1 2000; while [ ! -e ${flag} ]; do sleep 0.02; done; seq 2001 600000`] });
    assert.ok(job);
    const expected = execFileSync("seq", ["1", "600000"], { maxBuffer: 64 * 2 ** 20 });
    const head = execFileSync("seq", ["1", "2000"]).length;
    while (((await alice.getJob({ id: job.id })).job?.output?.stdoutBytes ?? 0n) < BigInt(head)) await sleep(20);
    // Chunks from `from` on, contiguous, and the job's status as the very last message.
    const follow = async (stream: AsyncIterable<StreamOutputResponse>, from = 0): Promise<{ data: Buffer; job: Job | undefined }> => {
      const parts: Buffer[] = [];
      let next = from;
      let ended: Job | undefined;
      for await (const m of stream) {
        assert.equal(ended, undefined, "nothing after the job's status");
        if (m.event.case === "job") ended = m.event.value;
        if (m.event.case !== "chunk") continue;
        assert.equal(m.event.value.offset, BigInt(next));
        next += m.event.value.data.length;
        parts.push(Buffer.from(m.event.value.data));
      }
      return { data: Buffer.concat(parts), job: ended };
    };
    const connections = [t.jobs(t.pki.alice), t.jobs(t.pki.alice)];
    const inStep = Array.from({ length: 50 }, (_, i) => follow((connections[i % 2] ?? alice).streamOutput({ id: job.id, follow: true })));
    // The stalled follower (a connection of its own) takes one message, then reads nothing until the others are done.
    const stalled = t.jobs(t.pki.alice).streamOutput({ id: job.id, follow: true })[Symbol.asyncIterator]();
    const first = await stalled.next();
    const offset = 1234;
    const late = follow(t.jobs(t.pki.alice).streamOutput({ id: job.id, follow: true, stdoutOffset: BigInt(offset) }), offset);
    await sleep(300);
    await writeFile(flag, "");
    const outs = await Promise.all([...inStep, late]);
    for (const [i, out] of outs.entries()) {
      assert.ok(out.data.equals(i < 50 ? expected : expected.subarray(offset)), `follower ${i}: ${out.data.length} bytes, not the job's output`);
      assert.equal(out.job?.state, JobState.EXITED);
    }
    assert.equal((await alice.getJob({ id: job.id })).job?.state, JobState.EXITED, "the job ended while a follower was stalled");
    assert.equal(first.value?.event.case, "chunk");
    const rest = await follow({ [Symbol.asyncIterator]: () => stalled }, first.value?.event.case === "chunk" ? first.value.event.value.data.length : 0);
    assert.ok(Buffer.concat([first.value?.event.case === "chunk" ? first.value.event.value.data : new Uint8Array(), rest.data]).equals(expected));
    assert.equal(rest.job?.state, JobState.EXITED);
  });

  test("followers of a 47 MB output on six connections, gRPC, gRPC-Web and Connect, live and late, fast and slow: all byte-exact", async () => {
    // Chunks of this size go through core's pooled read buffers, reused once written: any reuse too early would
    // show here as wrong bytes (seq's output differs at every offset).
    const expected = execFileSync("seq", ["1", "6000000"], { maxBuffer: 64 * 2 ** 20 });
    const alice = t.jobs(t.pki.alice);
    const { job } = await alice.startJob({ program: "seq", args: ["1", "6000000"] });
    assert.ok(job);
    const slowly = async (stream: AsyncIterable<StreamOutputResponse>): Promise<Buffer> => {
      const parts: Buffer[] = [];
      for await (const m of stream) {
        if (m.event.case !== "chunk") continue;
        parts.push(Buffer.from(m.event.value.data));
        if (parts.length % 4 === 0) await sleep(5);
      }
      return Buffer.concat(parts);
    };
    const follow = (protocol: Protocol) => t.jobs(t.pki.alice, protocol).streamOutput({ id: job.id, follow: true });
    const live = [readOutput(follow("grpc")).then((o) => o.stdout), slowly(follow("grpc")), readOutput(follow("grpc-web")).then((o) => o.stdout)];
    await Promise.all(live);
    const late = [readOutput(follow("grpc")).then((o) => o.stdout), slowly(follow("grpc")), readOutput(follow("connect")).then((o) => o.stdout)];
    const outputs = await Promise.all([...live, ...late]);
    assert.equal(expected.length, 46_888_896);
    for (const [i, out] of outputs.entries()) assert.ok(out.equals(expected), `follower ${i}: ${out.length} bytes, not the job's output`);
  });
});
