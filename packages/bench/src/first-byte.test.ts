import assert from "node:assert/strict";
import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { BenchError } from "./error.ts";
import { firstByte } from "./first-byte.ts";

const dir = await mkdtemp(join(tmpdir(), "bench-first-byte-"));
after(() => rm(dir, { recursive: true, force: true }));

test("firstByte wakes when a byte is appended later, not before", async () => {
  const path = join(dir, "later");
  await writeFile(path, "");
  let seen = false;
  const waiting = firstByte(path).then((at) => ((seen = true), at));
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(seen, false);
  const written = performance.now();
  await appendFile(path, "x");
  assert.ok((await waiting) >= written);
});

test("firstByte resolves at once for a file that already has bytes", async () => {
  const path = join(dir, "full");
  await writeFile(path, "ready\n");
  assert.ok((await firstByte(path)) > 0);
});

test("firstByte fails after the abort when the file stayed empty", async () => {
  const path = join(dir, "empty");
  await writeFile(path, "");
  const abort = new AbortController();
  const waiting = firstByte(path, abort.signal);
  abort.abort();
  await assert.rejects(waiting, (error: unknown) => error instanceof BenchError && error.code === "workload");
});
