import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { readCpuSeconds, readMemory } from "./proc.ts";

test("readCpuSeconds counts a child's CPU time as it spins", async () => {
  // A process named with spaces and parentheses, as /proc/PID/stat's second field may be.
  const child = spawn(process.execPath, ["--title=a (b) c", "-e", "const end = Date.now() + 600; while (Date.now() < end);"], { stdio: "ignore" });
  await once(child, "spawn");
  const pid = child.pid ?? 0;
  const before = await readCpuSeconds(pid);
  await new Promise((resolve) => setTimeout(resolve, 400));
  const during = await readCpuSeconds(pid);
  await once(child, "exit");
  assert.ok(during > before, `cpu ${before} -> ${during}`);
});

test("readMemory reports this process's resident set and its peak", async () => {
  const memory = await readMemory(process.pid);
  assert.ok(memory.rssBytes > 10 * 2 ** 20, `rss ${memory.rssBytes}`);
  assert.ok(memory.peakBytes >= memory.rssBytes);
});
