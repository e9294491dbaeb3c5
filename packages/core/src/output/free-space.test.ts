// The free-space check on a real filesystem: /dev/shm, a tmpfs whose free space this test changes by a file.
import assert from "node:assert/strict";
import { statfs, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { FreeSpaceCheck } from "./free-space.ts";

test("near the minimum every check looks: a file that takes the filesystem below it is refused at the next start", async () => {
  const dir = await mkdtemp("/dev/shm/jobexec-free-");
  try {
    const { bavail, bsize } = await statfs(dir);
    const check = new FreeSpaceCheck(dir, bavail * bsize - 4 * 1024 * 1024);
    await check.check();
    await writeFile(join(dir, "fill"), Buffer.alloc(8 * 1024 * 1024, 1));
    await assert.rejects(check.check(), { code: "resource_exhausted", message: /^the data directory .* MiB free, less than the .* MiB kept free for job output and records/ });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("no minimum, no check; a plentiful filesystem passes", async () => {
  await new FreeSpaceCheck("/nonexistent-jobexec-dir", 0).check();
  await new FreeSpaceCheck("/dev/shm", 1).check();
  await new FreeSpaceCheck("/dev/shm", 1).check();
});
