import assert from "node:assert/strict";
import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { OutputWatch } from "./output-watch.ts";
import { readOutput } from "./read-output.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "jobexec-watch-"));
  await writeFile(join(dir, "stdout"), "first\n");
  await writeFile(join(dir, "stderr"), "");
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function drain(iterable: AsyncIterable<{ data: Uint8Array }>, onData?: (text: string) => void): Promise<string> {
  let text = "";
  for await (const chunk of iterable) {
    text += Buffer.from(chunk.data).toString();
    onData?.(text);
  }
  return text;
}

test("1000 followers of one job share one watch, opened only while followed", { timeout: 60_000 }, async () => {
  const watch = new OutputWatch(dir);
  assert.equal(watch.watching, false);
  const before = process.memoryUsage();
  const aborts = Array.from({ length: 1000 }, () => new AbortController());
  let complete = 0;
  const { promise: allComplete, resolve } = Promise.withResolvers<undefined>();
  let lastAt = 0;
  const readers = aborts.map((ac) =>
    drain(readOutput(dir, watch, ["stdout"], { follow: true, signal: ac.signal }), (text) => {
      if (text === "first\nsecond\n" && ++complete === aborts.length) {
        lastAt = performance.now();
        resolve(undefined);
      }
    }),
  );
  await sleep(300);
  assert.equal(watch.watching, true);
  const now = process.memoryUsage();
  const perFollower = (a: number, b: number): string => ((a - b) / 1000 / 1024).toFixed(1);
  console.log(
    `# 1000 idle followers: heap +${perFollower(now.heapUsed, before.heapUsed)} KiB, buffers +${perFollower(now.arrayBuffers, before.arrayBuffers)} KiB each`,
  );
  const appendedAt = performance.now();
  await appendFile(join(dir, "stdout"), "second\n");
  await allComplete;
  console.log(`# one append reached all 1000 followers in ${(lastAt - appendedAt).toFixed(1)} ms`);
  // Half of them leave; the watch stays for the others.
  for (const ac of aborts.slice(0, 500)) ac.abort();
  await sleep(10);
  assert.equal(watch.watching, true);
  watch.end();
  assert.equal(watch.watching, false);
  const texts = await Promise.all(readers);
  assert.ok(texts.every((t) => t === "first\nsecond\n"));
});

test("followers leaving a quiet job leave no waiter behind; the one that stays is still woken", async () => {
  const watch = new OutputWatch(dir);
  const { promise: woken, resolve } = Promise.withResolvers<undefined>();
  const stays = drain(readOutput(dir, watch, ["stdout"], { follow: true }), (text) => text === "first\nsecond\n" && resolve(undefined));
  for (let round = 0; round < 3; round++) {
    const aborts = Array.from({ length: 100 }, () => new AbortController());
    const leaving = aborts.map((ac) => drain(readOutput(dir, watch, ["stdout"], { follow: true, signal: ac.signal })));
    while (watch.waiting < 101) await sleep(5);
    for (const ac of aborts) ac.abort();
    assert.deepEqual(await Promise.all(leaving), Array(100).fill("first\n"));
    assert.equal(watch.waiting, 1, "only the follower that stays waits");
  }
  await appendFile(join(dir, "stdout"), "second\n");
  await woken; // by the change, before the end
  watch.end();
  assert.equal(await stays, "first\nsecond\n");
  assert.equal(watch.waiting, 0);
});

test("the last follower leaving closes the watch; a new one reopens it", async () => {
  const watch = new OutputWatch(dir);
  const ac = new AbortController();
  const reading = drain(readOutput(dir, watch, ["stdout", "stderr"], { follow: true, signal: ac.signal }));
  await sleep(50);
  assert.equal(watch.watching, true);
  ac.abort();
  assert.equal(await reading, "first\n");
  assert.equal(watch.watching, false);
  const again = drain(readOutput(dir, watch, ["stdout"], { follow: true }));
  await sleep(50);
  assert.equal(watch.watching, true);
  await appendFile(join(dir, "stdout"), "more");
  await sleep(50);
  watch.end();
  assert.equal(await again, "first\nmore");
});

test("bytes written just before the end are still delivered (read to EOF after the end)", async () => {
  const watch = new OutputWatch(dir);
  const reading = drain(readOutput(dir, watch, ["stdout"], { follow: true }));
  await sleep(30);
  await appendFile(join(dir, "stdout"), "tail");
  watch.end(); // at once, before the watch reported the append
  assert.equal(await reading, "first\ntail");
});

test("without follow, or once ended, no watch is opened", async () => {
  const watch = new OutputWatch(dir);
  assert.equal(await drain(readOutput(dir, watch, ["stdout"], { follow: false })), "first\n");
  watch.end();
  assert.equal(await drain(readOutput(dir, watch, ["stdout"], { follow: true })), "first\n");
  assert.equal(watch.watching, false);
});

test("a directory that cannot be watched falls back to polling, still delivering", async () => {
  const watch = new OutputWatch(join(dir, "missing"));
  const other = new OutputWatch(dir);
  const reading = drain(readOutput(dir, watch, ["stdout"], { follow: true }));
  await sleep(50);
  assert.equal(watch.watching, true);
  await appendFile(join(dir, "stdout"), "polled\n");
  await sleep(100);
  watch.end();
  other.end();
  assert.equal(await reading, "first\npolled\n");
});

test("a limit keeps the watch open without followers and fires once, as soon as both files together exceed it", async () => {
  const watch = new OutputWatch(dir);
  let fired = 0;
  watch.limit(20, () => fired++);
  assert.equal(watch.watching, true, "open with no follower");
  await appendFile(join(dir, "stderr"), "1234567890");
  await sleep(50);
  assert.equal(fired, 0, "16 bytes are within 20");
  await appendFile(join(dir, "stderr"), "12345");
  for (let i = 0; i < 100 && fired === 0; i++) await sleep(10);
  assert.equal(fired, 1);
  await appendFile(join(dir, "stdout"), "more and more");
  await sleep(50);
  assert.equal(fired, 1, "once");
  watch.end();
  assert.equal(watch.watching, false);
});

test("output already over the limit when it is set fires at once; a follower leaving keeps the limit's watch", async () => {
  const watch = new OutputWatch(dir);
  const ac = new AbortController();
  const reading = drain(readOutput(dir, watch, ["stdout"], { follow: true, signal: ac.signal }));
  await sleep(30);
  let fired = 0;
  watch.limit(3, () => fired++);
  assert.equal(fired, 1, "the 6 bytes of first\\n are over 3");
  ac.abort();
  await reading;
  assert.equal(watch.watching, true);
  watch.end();
});

test("writes in a burst (while the watch rests after a change) all reach a follower, in order", async () => {
  const watch = new OutputWatch(dir);
  let text = "";
  const reading = drain(readOutput(dir, watch, ["stdout"], { follow: true }), (t) => (text = t));
  await sleep(30);
  const expected = ["first\n"];
  for (let i = 0; i < 200; i++) {
    const line = `burst ${String(i)}\n`;
    expected.push(line);
    await appendFile(join(dir, "stdout"), line);
    if (i % 50 === 0) await sleep(3); // some land right after a change, some later
  }
  for (let i = 0; i < 200 && text !== expected.join(""); i++) await sleep(10);
  assert.equal(text, expected.join(""), "delivered while the job runs, not only at its end");
  watch.end();
  assert.equal(await reading, expected.join(""));
});
