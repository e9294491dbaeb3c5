import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, open, rm, writeFile, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { holdChunk, maxChunkBytes, readChunk, releaseChunk } from "./chunk-buffers.ts";
import { SharedChunks } from "./shared-chunks.ts";

let dir: string;
let file: FileHandle;
const content = randomBytes(4 * maxChunkBytes);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "jobexec-chunks-"));
  await writeFile(join(dir, "out"), content);
  file = await open(join(dir, "out"), "r");
});
after(async () => {
  await file.close();
  await rm(dir, { recursive: true, force: true });
});

const at = (position: number, length: number): Buffer => content.subarray(position, position + length);

test("a large chunk's buffer is reused only after its last holder released it", async () => {
  const first = await readChunk(file, 0, maxChunkBytes);
  assert.deepEqual(first, at(0, maxChunkBytes));
  holdChunk(first);
  holdChunk(first);
  releaseChunk(first);
  const second = await readChunk(file, maxChunkBytes, maxChunkBytes);
  assert.notEqual(second.buffer, first.buffer, "one holder is left: not reused");
  assert.deepEqual(first, at(0, maxChunkBytes), "and its bytes are intact");
  releaseChunk(first);
  releaseChunk(first); // once more: nothing happens
  const third = await readChunk(file, 2 * maxChunkBytes, 300_000);
  assert.equal(third.buffer, first.buffer, "released by all: reused");
  assert.deepEqual(third, at(2 * maxChunkBytes, 300_000));
  const fourth = await readChunk(file, 0, maxChunkBytes);
  assert.notEqual(fourth.buffer, third.buffer, "only one reader gets a free buffer");
});

test("data nobody held, or a small chunk, is never reused", async () => {
  const unheld = await readChunk(file, 0, maxChunkBytes);
  releaseChunk(unheld);
  const next = await readChunk(file, maxChunkBytes, maxChunkBytes);
  assert.notEqual(next.buffer, unheld.buffer);
  assert.deepEqual(unheld, at(0, maxChunkBytes));
  const small = await readChunk(file, 5, 1000);
  holdChunk(small);
  releaseChunk(small);
  assert.equal(small.length, 1000);
  assert.deepEqual(small, at(5, 1000));
  const past = await readChunk(file, content.length - 10, maxChunkBytes);
  assert.deepEqual(past, at(content.length - 10, 10), "a read past the end is shorter");
});

test("followers in step share one read; the buffer waits for every one of them and for the cache", async () => {
  const chunks = new SharedChunks();
  let reads = 0;
  const read = (position: number) => () => {
    reads++;
    return readChunk(file, position, maxChunkBytes);
  };
  // Two followers ask before the read completes, a third after.
  const [a, b] = await Promise.all([chunks.get("out", 0, maxChunkBytes, read(0)), chunks.get("out", 0, maxChunkBytes, read(0))]);
  const c = await chunks.get("out", 0, maxChunkBytes, read(0));
  assert.equal(reads, 1);
  assert.ok(a === b && b === c);
  releaseChunk(a);
  releaseChunk(b);
  // The cache lets the first chunk go when the next range is asked for; one follower still holds it.
  const next = await chunks.get("out", maxChunkBytes, maxChunkBytes, read(maxChunkBytes));
  assert.notEqual(next.buffer, a.buffer);
  assert.deepEqual(c, at(0, maxChunkBytes));
  releaseChunk(c);
  // Every follower released it and the cache let it go: its buffer serves a later read.
  releaseChunk(next);
  const third = await chunks.get("out", 2 * maxChunkBytes, maxChunkBytes, read(2 * maxChunkBytes));
  assert.ok(third.buffer === a.buffer || third.buffer === next.buffer, "a freed buffer");
  assert.deepEqual(third, at(2 * maxChunkBytes, maxChunkBytes));
  assert.equal(reads, 3);
  releaseChunk(third);
  chunks.clear();
});

test("a follower that has not released keeps the buffer from reuse, whatever the others do", async () => {
  const chunks = new SharedChunks();
  const read = (position: number) => () => readChunk(file, position, maxChunkBytes);
  const slow = await chunks.get("out", 0, maxChunkBytes, read(0));
  const fast = await chunks.get("out", 0, maxChunkBytes, read(0));
  releaseChunk(fast);
  chunks.clear();
  for (let i = 1; i < 4; i++) {
    const next = await readChunk(file, i * maxChunkBytes, maxChunkBytes);
    assert.notEqual(next.buffer, slow.buffer);
  }
  assert.deepEqual(slow, at(0, maxChunkBytes));
  releaseChunk(slow);
});
