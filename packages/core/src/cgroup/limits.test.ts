import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { applyLimits, controllersFor, keptMemoryMax } from "./limits.ts";

// A fake cgroup directory of plain files: a write is kept exactly, as the kernel does for valid values.
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "jobexec-fake-cgroup-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const read = (file: string): Promise<string> => readFile(join(dir, file), "utf8");

test("controllersFor names what each limit needs", () => {
  assert.deepEqual(controllersFor({}), []);
  assert.deepEqual(controllersFor({ cpuWeight: 5 }), ["cpu"]);
  assert.deepEqual(controllersFor({ cpu: 1, memoryMaxBytes: 1, pidsMax: 1, io: [{ device: "8:0", resolvedDevice: "8:0", readBps: 1 }] }).sort(), [
    "cpu",
    "io",
    "memory",
    "pids",
  ]);
});

test("every limit is written in its file's format", async () => {
  await applyLimits(dir, {
    cpu: 0.5,
    cpuWeight: 200,
    memoryMaxBytes: 64 << 20,
    pidsMax: 32,
    io: [{ device: "/", resolvedDevice: "254:0", writeBps: 10_000_000, readIops: 100 }],
  });
  assert.equal(await read("cpu.max"), "50000 100000");
  assert.equal(await read("cpu.weight"), "200");
  assert.equal(await read("memory.max"), String(64 << 20));
  assert.equal(await read("memory.swap.max"), "0");
  assert.equal(await read("memory.oom.group"), "1");
  assert.equal(await read("pids.max"), "32");
  assert.equal(await read("io.max"), "254:0 rbps=max wbps=10000000 riops=100 wiops=max");
});

test("no limits, no writes", async () => {
  await applyLimits(dir, {});
  await assert.rejects(read("cpu.max"), { code: "ENOENT" });
});

test("memory.swap.max may be absent (no swap accounting)", async () => {
  // A dangling link makes the write fail with ENOENT, as a missing interface file does.
  await symlink(join(dir, "missing/memory.swap.max"), join(dir, "memory.swap.max"));
  await applyLimits(dir, { memoryMaxBytes: 1 << 20 });
  assert.equal(await read("memory.oom.group"), "1");
});

test("a file that does not keep the value fails the job with failed_precondition", async () => {
  await symlink("/dev/null", join(dir, "cpu.max"));
  await assert.rejects(applyLimits(dir, { cpu: 1 }), { code: "failed_precondition", message: /cpu.max did not keep "100000 100000"/ });
  await symlink("/dev/null", join(dir, "io.max"));
  await assert.rejects(applyLimits(dir, { io: [{ device: "8:0", resolvedDevice: "8:0", readBps: 5 }] }), {
    code: "failed_precondition",
    message: /io.max did not keep "8:0 rbps=5"/,
  });
  await symlink("/dev/null", join(dir, "pids.max"));
  await assert.rejects(applyLimits(dir, { pidsMax: 4 }), { code: "failed_precondition", message: /pids.max/ });
});

test("memory.max read back rounded down to a page is accepted; anything else is not", async () => {
  assert.equal(keptMemoryMax(10_000_001, "9998336"), true);
  assert.equal(keptMemoryMax(4096, "4096"), true);
  assert.equal(keptMemoryMax(10_000_001, "max"), false);
  assert.equal(keptMemoryMax(10_000_001, ""), false);
  assert.equal(keptMemoryMax(10_000_001, "10004480"), false);
  assert.equal(keptMemoryMax(10_000_001, "4096"), false);
  await applyLimits(dir, { memoryMaxBytes: 10_000_001 });
  assert.equal(await read("memory.max"), "10000001");
  await rm(join(dir, "memory.max"));
  await symlink("/dev/null", join(dir, "memory.max"));
  await assert.rejects(applyLimits(dir, { memoryMaxBytes: 10_000_001 }), { code: "failed_precondition", message: /memory.max did not keep/ });
});
