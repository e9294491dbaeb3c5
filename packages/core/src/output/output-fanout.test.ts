// The fan-out of followers at the live edge (deliverOutput + OutputFanout) over real files appended while followed.
import assert from "node:assert/strict";
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { OutputChunk, OutputSink, StreamName } from "../types.ts";
import { releaseChunk } from "./chunk-buffers.ts";
import { deliverOutput } from "./deliver-output.ts";
import { fanoutOf } from "./output-fanout.ts";
import { OutputWatch } from "./output-watch.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "jobexec-fanout-"));
  await writeFile(join(dir, "stdout"), "");
  await writeFile(join(dir, "stderr"), "");
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** A sink collecting each stream's bytes, checking that chunks are contiguous from where it started. */
class Collector implements OutputSink {
  readonly parts: Record<StreamName, Buffer[]> = { stdout: [], stderr: [] };
  readonly next: Partial<Record<StreamName, number>>;
  chunks = 0;
  /** While set, write() takes the chunk and says the sink is full; ready() waits for release(). */
  stalled = false;
  #ready = Promise.withResolvers<undefined>();

  /** `from`: where each stream starts (default 0); "tail": anywhere, then contiguous. */
  constructor(from: Partial<Record<StreamName, number>> | "tail" = {}) {
    this.next = from === "tail" ? { stdout: -1, stderr: -1 } : { ...from };
  }

  write(chunk: OutputChunk): boolean {
    const start = this.next[chunk.stream] ?? 0;
    const expected = start === -1 ? chunk.offset : start;
    assert.equal(chunk.offset, expected, `${chunk.stream} chunk at ${chunk.offset}, expected ${expected}`);
    this.next[chunk.stream] = chunk.offset + chunk.data.length;
    this.parts[chunk.stream].push(Buffer.from(chunk.data));
    releaseChunk(chunk.data);
    this.chunks++;
    return !this.stalled;
  }

  ready(): Promise<void> {
    return this.stalled ? this.#ready.promise : Promise.resolve();
  }

  release(): void {
    this.stalled = false;
    this.#ready.resolve(undefined);
  }

  text(stream: StreamName): string {
    return Buffer.concat(this.parts[stream]).toString();
  }
}

/** Appends `lines` numbered lines to both streams, `everyMs` apart. */
async function write(lines: number, everyMs: number, first = 0): Promise<void> {
  for (let i = first; i < first + lines; i++) {
    await appendFile(join(dir, "stdout"), `out ${i}\n`);
    await appendFile(join(dir, "stderr"), `err ${i}\n`);
    await sleep(everyMs);
  }
}

test("200 followers of a live job are served together and get byte-identical output of both streams", { timeout: 60_000 }, async () => {
  const watch = new OutputWatch(dir);
  const sinks = Array.from({ length: 200 }, () => new Collector());
  const deliveries = sinks.map((sink) => deliverOutput(dir, watch, ["stdout", "stderr"], { follow: true }, sink));
  let most = 0;
  const sampling = setInterval(() => (most = Math.max(most, fanoutOf(dir, watch).size)), 2);
  await write(300, 2);
  watch.end();
  await Promise.all(deliveries);
  clearInterval(sampling);
  const stdout = await readFile(join(dir, "stdout"), "utf8");
  const stderr = await readFile(join(dir, "stderr"), "utf8");
  assert.equal(stdout.split("\n").length, 301);
  for (const sink of sinks) {
    assert.equal(sink.text("stdout"), stdout);
    assert.equal(sink.text("stderr"), stderr);
  }
  console.log(`# 200 followers: up to ${most} in the fan-out at once; ${sinks[0]?.chunks} chunks the first one`);
  assert.equal(most, 200, "every follower joined the fan-out");
  assert.equal(fanoutOf(dir, watch).size, 0, "nobody is left in it after the end");
});

test("a stalled follower leaves the fan-out: the others and the writer go on, and it later gets every byte", { timeout: 60_000 }, async () => {
  const watch = new OutputWatch(dir);
  const stalled = new Collector();
  const others = Array.from({ length: 20 }, () => new Collector());
  const stalledDelivery = deliverOutput(dir, watch, ["stdout"], { follow: true }, stalled);
  const deliveries = others.map((sink) => deliverOutput(dir, watch, ["stdout"], { follow: true }, sink));
  await write(5, 5);
  assert.equal(fanoutOf(dir, watch).size, 21);
  stalled.stalled = true;
  await write(200, 1, 5);
  watch.end();
  await Promise.all(deliveries);
  const stdout = await readFile(join(dir, "stdout"), "utf8");
  for (const sink of others) assert.equal(sink.text("stdout"), stdout);
  // It took the one chunk that found it full, and nothing since.
  const held = stalled.chunks;
  await sleep(50);
  assert.equal(stalled.chunks, held);
  assert.ok(stalled.text("stdout").length < stdout.length);
  stalled.release();
  await stalledDelivery;
  assert.equal(stalled.text("stdout"), stdout);
});

test("followers joining mid-stream get everything from their offset or tail, then join the others", { timeout: 60_000 }, async () => {
  const watch = new OutputWatch(dir);
  const early = new Collector();
  const earlyDelivery = deliverOutput(dir, watch, ["stdout", "stderr"], { follow: true }, early);
  await write(50, 1);
  const offset = (await readFile(join(dir, "stdout"))).length - 7;
  const fromOffset = new Collector({ stdout: offset });
  const fromTail = new Collector("tail");
  const late = [
    deliverOutput(dir, watch, ["stdout"], { follow: true, from: { stdout: offset } }, fromOffset),
    deliverOutput(dir, watch, ["stderr"], { follow: true, from: { tailLines: 3 } }, fromTail),
  ];
  const stderrBefore = await readFile(join(dir, "stderr"), "utf8");
  // (Their starts are resolved before anything more is written.)
  for (let i = 0; i < 200 && (fromOffset.chunks === 0 || fromTail.chunks === 0); i++) await sleep(5);
  await write(50, 2, 50);
  assert.equal(fanoutOf(dir, watch).size, 3, "the late followers joined the early one");
  watch.end();
  await Promise.all([earlyDelivery, ...late]);
  const stdout = await readFile(join(dir, "stdout"));
  const stderr = await readFile(join(dir, "stderr"), "utf8");
  assert.equal(early.text("stdout"), stdout.toString());
  assert.equal(fromOffset.text("stdout"), stdout.subarray(offset).toString());
  assert.equal(fromTail.text("stderr"), stderrBefore.split("\n").slice(-4).join("\n") + stderr.slice(stderrBefore.length));
  assert.equal(fromTail.text("stdout"), "");
});

test("an aborted follower leaves at once; an ended job's output is delivered without the fan-out", async () => {
  const watch = new OutputWatch(dir);
  const ac = new AbortController();
  const sink = new Collector();
  await appendFile(join(dir, "stdout"), "one\n");
  const delivery = deliverOutput(dir, watch, ["stdout"], { follow: true, signal: ac.signal }, sink);
  for (let i = 0; i < 100 && fanoutOf(dir, watch).size === 0; i++) await sleep(5);
  assert.equal(fanoutOf(dir, watch).size, 1);
  ac.abort();
  await delivery;
  assert.equal(fanoutOf(dir, watch).size, 0);
  assert.equal(watch.watching, false, "the watch closed with its last follower");
  await appendFile(join(dir, "stdout"), "two\n");
  watch.end();
  const after = new Collector();
  await deliverOutput(dir, watch, ["stdout"], { follow: true }, after);
  assert.equal(after.text("stdout"), "one\ntwo\n");
  assert.equal(sink.text("stdout"), "one\n");
});
