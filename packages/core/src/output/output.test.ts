// Integration: reading and following job output: live lines, late and concurrent readers, tails, offsets, cancel.
import assert from "node:assert/strict";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { jobNode, slowPath } from "@jobexec/testing-slow";
import { collect, type Fixture, followAll, openFds, openFixture, reachableTempDir, standbysReady } from "../test-support/fixture.ts";

function seq(from: number, to: number): string {
  let s = "";
  for (let i = from; i <= to; i++) s += `${String(i)}\n`;
  return s;
}

/** Waits until get() reports at least `bytes` of stdout. */
async function waitForStdout(fx: Fixture, id: string, bytes: number): Promise<void> {
  while ((await fx.manager.get(id)).output.stdout < bytes) await sleep(20);
}

describe("job output", { timeout: 120_000 }, () => {
  let fx: Fixture;
  let scratch: string;
  before(async () => {
    fx = await openFixture({ defaultGraceMs: 1000 });
    scratch = await reachableTempDir("jobexec-core-output-", 0o777);
  });
  after(async () => {
    await fx.close();
    await rm(scratch, { recursive: true, force: true });
  });

  test("6: lines written a second apart reach a follower live, not batched", async () => {
    const job = await fx.manager.start({ program: jobNode, args: [slowPath, "3"] }, "alice");
    const arrivals: { line: string; at: number }[] = [];
    for await (const chunk of fx.manager.output(job.id, { follow: true })) {
      for (const line of Buffer.from(chunk.data).toString().split("\n").filter(Boolean)) arrivals.push({ line, at: performance.now() });
    }
    assert.deepEqual(arrivals.map((a) => a.line), ["line 1", "line 2", "line 3", "exited 0"]);
    const [first, second] = arrivals;
    const gap = (second?.at ?? 0) - (first?.at ?? 0);
    console.log(`# line 2 arrived ${gap.toFixed(0)} ms after line 1`);
    assert.ok(gap > 500, `line 2 arrived ${String(gap)} ms after line 1: batched`);
  });

  test("8: a reader attaching after 50 lines gets lines 1-50, then the rest live, then the end", async () => {
    const flag = join(scratch, "go-8");
    const job = await fx.manager.start({ program: "sh", args: ["-c", `seq 1 50; while [ ! -e ${flag} ]; do sleep 0.02; done; seq 51 100`] }, "alice");
    await waitForStdout(fx, job.id, seq(1, 50).length);
    const reading = followAll(fx.manager, job.id);
    await sleep(100);
    await writeFile(flag, "");
    assert.equal((await reading).stdout.toString(), seq(1, 100));
  });

  test("9: 100 concurrent followers of seq 1 100000 get byte-identical, complete output", async () => {
    const job = await fx.manager.start({ program: "seq", args: ["1", "100000"] }, "alice");
    const started = performance.now();
    const outs = await Promise.all(Array.from({ length: 100 }, () => followAll(fx.manager, job.id)));
    console.log(`# 100 followers x ${String(outs[0]?.stdout.length)} bytes in ${(performance.now() - started).toFixed(0)} ms`);
    const expected = Buffer.from(seq(1, 100000));
    for (const out of outs) assert.ok(out.stdout.equals(expected));
  });

  test("13: cancelling one of two followers leaves the other flowing; they share one descriptor; fds return to baseline", async () => {
    const job = await fx.manager.start({ program: "sh", args: ["-c", "i=0; while :; do i=$((i+1)); echo $i; sleep 0.02; done"] }, "alice");
    // Descriptors on the job's output files; all fds of the process must come back to the baseline too.
    const jobFds = (): number => openFds(join(fx.dataDir, "jobs", job.id));
    await standbysReady(fx.manager);
    const baseline = openFds();
    const cancel = new AbortController();
    const first = fx.manager.output(job.id, { stream: "stdout", follow: true, signal: cancel.signal })[Symbol.asyncIterator]();
    const second = fx.manager.output(job.id, { stream: "stdout", follow: true })[Symbol.asyncIterator]();
    assert.equal((await first.next()).done, false);
    assert.equal((await second.next()).done, false);
    assert.equal(jobFds(), 1, "followers read through one shared descriptor per file");
    // Abort while the first is not being pulled: it ends without another next() call; the shared handle stays.
    cancel.abort();
    assert.equal((await first.next()).done, true);
    assert.equal(jobFds(), 1, "the second follower's shared descriptor stays open");
    let received = 0;
    for (let r = await second.next(); !r.done && received < 10; r = await second.next()) received++;
    assert.equal(received, 10, "the second reader keeps receiving");
    await second.return?.();
    for (let waited = 0; jobFds() !== 0 && waited < 5000; waited += 10) await sleep(10);
    assert.equal(jobFds(), 0, "the last follower leaving closes it");
    assert.ok(openFds() <= baseline + 1, "at most the event loop's inotify descriptor was added");
    await fx.manager.stop(job.id, { graceMs: 500 });
  });

  test("an abort while waiting for new output ends the follower at once", async () => {
    const job = await fx.manager.start({ program: "sleep", args: ["1000"] }, "alice");
    // The standby this start took is replaced first: its pipes would count as the follower's.
    await standbysReady(fx.manager);
    const baseline = openFds();
    const cancel = new AbortController();
    const reading = collect(fx.manager.output(job.id, { follow: true, signal: cancel.signal }));
    await sleep(100);
    assert.equal(openFds(join(fx.dataDir, "jobs", job.id)), 2);
    cancel.abort();
    assert.equal((await reading).stdout.length, 0);
    // The last follower's release closes the shared handles without waiting (output-watch.ts): give it a moment.
    for (let waited = 0; openFds(join(fx.dataDir, "jobs", job.id)) !== 0 && waited < 2000; waited += 10) await sleep(10);
    assert.equal(openFds(join(fx.dataDir, "jobs", job.id)), 0);
    assert.ok(openFds() <= baseline + 1, "at most the event loop's inotify descriptor was added");
    await fx.manager.stop(job.id, { graceMs: 500 });
  });

  test("tail N lines of a large output: correct, from the end", async () => {
    const job = await fx.manager.start({ program: "seq", args: ["1", "1000000"] }, "alice");
    await followAll(fx.manager, job.id);
    for (const n of [1, 10, 12345]) {
      const started = performance.now();
      const out = await collect(fx.manager.output(job.id, { stream: "stdout", from: { tailLines: n } }));
      console.log(`# tail ${String(n)} lines of 6.9 MB: ${(performance.now() - started).toFixed(1)} ms`);
      assert.equal(out.stdout.toString(), seq(1_000_001 - n, 1_000_000));
      assert.equal(out.order[0]?.offset, seq(1, 1_000_000 - n).length);
    }
    assert.equal((await collect(fx.manager.output(job.id, { from: { tailLines: 0 } }))).stdout.length, 0);
  });

  test("tail counts lines per stream, and more lines than exist gives everything", async () => {
    const job = await fx.manager.start({ program: "sh", args: ["-c", "echo o1; echo e1 >&2; echo o2; echo e2 >&2; printf o3"] }, "alice");
    await followAll(fx.manager, job.id);
    const two = await collect(fx.manager.output(job.id, { from: { tailLines: 2 } }));
    assert.equal(two.stdout.toString(), "o2\no3");
    assert.equal(two.stderr.toString(), "e1\ne2\n");
    const all = await collect(fx.manager.output(job.id, { from: { tailLines: 100 } }));
    assert.equal(all.stdout.toString(), "o1\no2\no3");
  });

  test("reads from byte offsets, per stream, and one stream only", async () => {
    const job = await fx.manager.start({ program: "sh", args: ["-c", "echo 0123456789; echo abcdef >&2"] }, "alice");
    await followAll(fx.manager, job.id);
    const out = await collect(fx.manager.output(job.id, { from: { stdout: 5, stderr: 3 } }));
    assert.equal(out.stdout.toString(), "56789\n");
    assert.equal(out.stderr.toString(), "def\n");
    assert.equal(out.order.find((c) => c.stream === "stdout")?.offset, 5);
    const onlyErr = await collect(fx.manager.output(job.id, { stream: "stderr" }));
    assert.equal(onlyErr.stdout.length, 0);
    assert.equal(onlyErr.stderr.toString(), "abcdef\n");
    const beyond = await collect(fx.manager.output(job.id, { from: { stdout: 1000 } }));
    assert.equal(beyond.stdout.length, 0);
  });

  test("a follower with a tail start on a live job gets the tail, then the rest", async () => {
    const flag = join(scratch, "go-tail");
    const job = await fx.manager.start({ program: "sh", args: ["-c", `seq 1 20; while [ ! -e ${flag} ]; do sleep 0.02; done; seq 21 25`] }, "alice");
    await waitForStdout(fx, job.id, seq(1, 20).length);
    const reading = followAll(fx.manager, job.id, { from: { tailLines: 3 } });
    await sleep(50);
    await writeFile(flag, "");
    assert.equal((await reading).stdout.toString(), seq(18, 25));
  });

  test("follow latency: new bytes reach a follower quickly (figures printed)", async () => {
    // Each line carries the time it was written; the follower measures how late it saw it.
    const job = await fx.manager.start({ program: "sh", args: ["-c", "for i in $(seq 1 40); do date +%s%N; sleep 0.05; done"] }, "alice");
    const latencies: number[] = [];
    for await (const chunk of fx.manager.output(job.id, { follow: true })) {
      const now = BigInt(Date.now()) * 1_000_000n;
      const lines = Buffer.from(chunk.data).toString().split("\n").filter(Boolean);
      const last = lines[lines.length - 1];
      if (last !== undefined) latencies.push(Number(now - BigInt(last)) / 1e6);
    }
    latencies.sort((a, b) => a - b);
    const at = (q: number): string => (latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN).toFixed(1);
    console.log(`# follow latency over ${String(latencies.length)} wake-ups: p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${at(1)} ms`);
    // Wakes once per line or so: a sleep-polling reader with a long period would batch many lines per wake-up.
    assert.ok(latencies.length >= 20, `only ${String(latencies.length)} wake-ups for 40 lines`);
  });
});
