import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { cpioArchive } from "./cpio.ts";
import { skipWithout } from "./host-tools.ts";

test("GNU cpio extracts what cpioArchive wrote: directories, files of every length, a symlink", { skip: skipWithout("cpio") }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "cpio-test-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // Lengths 0..4 and an odd large one exercise every padding case of the newc format.
  const files = [0, 1, 2, 3, 4, 100_003].map((length, index) => ({
    path: `d/sub/f${index}`,
    data: Buffer.alloc(length, 65 + index),
  }));
  const archive = cpioArchive([
    { kind: "dir", path: "d" },
    { kind: "dir", path: "d/sub", mode: 0o700 },
    ...files.map((file) => ({ kind: "file" as const, ...file, mode: 0o755 })),
    { kind: "symlink", path: "d/link", target: "sub/f5" },
  ]);
  await writeFile(join(dir, "a.cpio"), archive);
  const out = join(dir, "out");
  execFileSync("sh", ["-c", `mkdir ${out} && cd ${out} && cpio -i --quiet --no-absolute-filenames < ../a.cpio`]);

  for (const file of files) assert.deepEqual(await readFile(join(out, file.path)), file.data);
  assert.equal((await stat(join(out, "d/sub"))).mode & 0o777, 0o700);
  assert.equal((await stat(join(out, "d/sub/f1"))).mode & 0o777, 0o755);
  assert.equal(await readlink(join(out, "d/link")), "sub/f5");
});

test("cpioArchive lists a character device with its device number", { skip: skipWithout("cpio") }, () => {
  const listing = execFileSync("cpio", ["-t", "-v", "--quiet"], {
    input: cpioArchive([{ kind: "dir", path: "dev" }, { kind: "chardev", path: "dev/console", major: 5, minor: 1 }]),
  }).toString();
  assert.match(listing, /^crw------- .* 5,\s+1 .* dev\/console$/m);
});
