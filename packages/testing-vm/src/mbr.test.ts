import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { masterBootRecord } from "./mbr.ts";

test("util-linux partx reads the partitions masterBootRecord wrote", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "mbr-test-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const image = join(dir, "disk.img");
  await writeFile(
    image,
    masterBootRecord([
      { startSector: 2048, sectors: 4096 },
      { startSector: 8192, sectors: 100, type: 0x0c },
    ]),
  );
  await truncate(image, 16 * 1024 * 1024);
  const table = execFileSync("partx", ["--raw", "--noheadings", "--output", "NR,START,SECTORS,TYPE", image]).toString();
  assert.deepEqual(table.trim().split("\n"), ["1 2048 4096 0x83", "2 8192 100 0xc"]);
});

test("masterBootRecord refuses a fifth primary partition", () => {
  const five = Array.from({ length: 5 }, (_, i) => ({ startSector: 2048 * (i + 1), sectors: 1 }));
  assert.throws(() => masterBootRecord(five), RangeError);
});
