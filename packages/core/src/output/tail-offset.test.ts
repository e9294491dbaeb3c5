import assert from "node:assert/strict";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { tailOffset } from "./tail-offset.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "jobexec-tail-"));
});
after(() => rm(dir, { recursive: true, force: true }));

async function tail(content: string | Buffer, lines: number): Promise<string> {
  const file = join(dir, "f");
  await writeFile(file, content);
  const handle = await open(file, "r");
  try {
    const size = (await handle.stat()).size;
    return Buffer.from(content).subarray(await tailOffset(handle, size, lines)).toString();
  } finally {
    await handle.close();
  }
}

test("last lines, with and without a final newline", async () => {
  assert.equal(await tail("a\nb\nc\n", 1), "c\n");
  assert.equal(await tail("a\nb\nc\n", 2), "b\nc\n");
  assert.equal(await tail("a\nb\nc", 1), "c");
  assert.equal(await tail("a\nb\nc", 2), "b\nc");
  assert.equal(await tail("a\n\n\nb\n", 2), "\nb\n");
});

test("more lines than the file has, zero lines, empty file", async () => {
  assert.equal(await tail("a\nb\n", 5), "a\nb\n");
  assert.equal(await tail("a\nb\n", 0), "");
  assert.equal(await tail("", 3), "");
  assert.equal(await tail("\n", 1), "\n");
});

test("lines across 64 KiB block boundaries, and a line longer than a block", async () => {
  const long = "x".repeat(200_000);
  assert.equal(await tail(`head\n${long}\nlast\n`, 2), `${long}\nlast\n`);
  let many = "";
  for (let i = 0; i < 50_000; i++) many += `line ${String(i)}\n`;
  const expected = many.split("\n").slice(-1001, -1).join("\n") + "\n";
  assert.equal(await tail(many, 1000), expected);
});
