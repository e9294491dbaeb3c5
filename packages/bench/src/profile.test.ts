import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { summarizeProfile } from "./profile.ts";

test("summarizeProfile puts a real profile's hottest function first", async () => {
  const dir = await mkdtemp(join(tmpdir(), "bench-profile-"));
  try {
    const program = "function spinHere() { const end = Date.now() + 500; let x = 0; while (Date.now() < end) x++; return x; } spinHere();";
    const child = spawn(process.execPath, ["--cpu-prof", `--cpu-prof-dir=${dir}`, "-e", program], { stdio: "ignore" });
    await once(child, "exit");
    const [file] = await readdir(dir);
    assert.ok(file !== undefined, "a profile was written");
    const lines = await summarizeProfile(join(dir, file));
    assert.match(lines[0] ?? "", /^busy \d+ ms$/);
    assert.ok(lines.slice(1, 4).some((line) => line.includes("spinHere")), lines.join("\n"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
