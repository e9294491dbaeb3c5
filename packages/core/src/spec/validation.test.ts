// Integration: every invalid input is rejected with a clear JobError and leaves nothing behind.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { JobError, type JobErrorCode, JobManager, type JobSpec } from "../index.ts";
import { type Fixture, openFixture, reachableTempDir } from "../test-support/fixture.ts";

describe("start() validation", { timeout: 60_000 }, () => {
  let fx: Fixture;
  let scratch: string;
  before(async () => {
    fx = await openFixture();
    scratch = await reachableTempDir("jobexec-core-validation-", 0o755);
    await writeFile(join(scratch, "not-executable"), "#!/bin/sh\n");
    await mkdir(join(scratch, "bin"));
    await writeFile(join(scratch, "bin", "tool"), "#!/bin/sh\n");
    // Root's: executable and enterable by root only.
    await mkdir(join(scratch, "private", "sub"), { recursive: true, mode: 0o700 });
    await writeFile(join(scratch, "private", "tool"), "#!/bin/sh\n", { mode: 0o755 });
    await writeFile(join(scratch, "root-only"), "#!/bin/sh\n", { mode: 0o700 });
  });
  after(async () => {
    await fx.close();
    await rm(scratch, { recursive: true, force: true });
  });

  async function rejects(spec: JobSpec, code: JobErrorCode, message: RegExp): Promise<void> {
    await assert.rejects(fx.manager.start(spec, "alice"), (err: unknown) => {
      assert.ok(err instanceof JobError, String(err));
      assert.equal(err.code, code, err.message);
      assert.match(err.message, message);
      return true;
    });
  }

  const cpus = availableParallelism();
  const cases: [string, () => JobSpec, JobErrorCode, RegExp][] = [
    ["4: empty program", () => ({ program: "" }), "invalid_argument", /program is empty/],
    ["NUL in the program", () => ({ program: "ec\0ho" }), "invalid_argument", /program contains a NUL/],
    ["NUL in an argument", () => ({ program: "echo", args: ["a", "b\0c"] }), "invalid_argument", /args\[1\] contains a NUL/],
    ["NUL in an env value", () => ({ program: "echo", env: { A: "x\0y" } }), "invalid_argument", /env A contains a NUL/],
    ["NUL in an env name", () => ({ program: "echo", env: { "A\0B": "x" } }), "invalid_argument", /contains a NUL/],
    ["empty env name", () => ({ program: "echo", env: { "": "x" } }), "invalid_argument", /env name is empty/],
    ["env name with =", () => ({ program: "echo", env: { "A=B": "x" } }), "invalid_argument", /env name "A=B" contains "="/],
    ["3: missing binary on PATH", () => ({ program: "no-such-program-xyz" }), "invalid_argument", /^program "no-such-program-xyz" not found on the server's PATH$/],
    ["missing binary by path", () => ({ program: "/no/such/program" }), "invalid_argument", /not found \(\/no\/such\/program does not exist or is not reachable by the job's account, uid \d+\)/],
    ["file not executable", () => ({ program: join(scratch, "not-executable") }), "invalid_argument", /is not an executable file/],
    ["a directory as program", () => ({ program: scratch }), "invalid_argument", /is not an executable file/],
    ["found on PATH without x bit", () => ({ program: "tool", env: { PATH: join(scratch, "bin") } }), "invalid_argument", /"tool" is not executable/],
    ["PATH is the job's, not the server's", () => ({ program: "ls", env: { PATH: join(scratch, "bin") } }), "invalid_argument", /^program "ls" not found on the job's PATH$/],
    ["a cwd the job's account cannot enter", () => ({ program: "true", cwd: join(scratch, "private") }), "invalid_argument", /^cwd "\S+\/private" cannot be entered by the job's account \(alice, uid \d+\): \S+\/private is not searchable by it$/],
    ["a cwd below one it cannot enter", () => ({ program: "true", cwd: join(scratch, "private", "sub") }), "invalid_argument", /^cwd "\S+\/private\/sub" does not exist or is not reachable by the job's account \(alice, uid \d+\)$/],
    ["a program in a directory it cannot search", () => ({ program: join(scratch, "private", "tool") }), "invalid_argument", /^program "\S+\/private\/tool" not found \(\S+\/private\/tool does not exist or is not reachable by the job's account, uid \d+\)$/],
    ["a program only its owner may execute", () => ({ program: join(scratch, "root-only") }), "invalid_argument", /is not an executable file: the job's account \(uid \d+\) may not execute it/],
    ["on PATH, only where it cannot reach", () => ({ program: "tool", env: { PATH: join(scratch, "private") } }), "invalid_argument", /^program "tool" not found on the job's PATH$/],
    ["relative cwd", () => ({ program: "true", cwd: "tmp" }), "invalid_argument", /cwd "tmp" is not an absolute path/],
    ["missing cwd", () => ({ program: "true", cwd: "/no/such/dir" }), "invalid_argument", /^cwd "\/no\/such\/dir" does not exist or is not reachable by the job's account \(alice, uid \d+\)$/],
    ["cwd is a file", () => ({ program: "true", cwd: join(scratch, "not-executable") }), "invalid_argument", /is not a directory/],
    ["relative program against cwd", () => ({ program: "./true", cwd: "/usr" }), "invalid_argument", /"\.\/true" not found/],
    ["cpu zero", () => ({ program: "true", limits: { cpu: 0 } }), "invalid_argument", /limits.cpu must be positive/],
    ["cpu negative", () => ({ program: "true", limits: { cpu: -1 } }), "invalid_argument", /limits.cpu must be positive/],
    ["cpu NaN", () => ({ program: "true", limits: { cpu: NaN } }), "invalid_argument", /limits.cpu must be a finite number/],
    ["cpu infinite", () => ({ program: "true", limits: { cpu: Infinity } }), "invalid_argument", /limits.cpu must be a finite number/],
    ["cpu above the CPU count", () => ({ program: "true", limits: { cpu: cpus + 0.5 } }), "invalid_argument", /exceeds the host's \d+ CPUs/],
    ["cpu below one quota tick", () => ({ program: "true", limits: { cpu: 0.001 } }), "invalid_argument", /below the smallest quota/],
    ["cpu weight 0", () => ({ program: "true", limits: { cpuWeight: 0 } }), "invalid_argument", /cpuWeight must be positive/],
    ["cpu weight 10001", () => ({ program: "true", limits: { cpuWeight: 10001 } }), "invalid_argument", /cpuWeight 10001 exceeds the cpu.weight range/],
    ["cpu weight fractional", () => ({ program: "true", limits: { cpuWeight: 1.5 } }), "invalid_argument", /cpuWeight must be a whole number/],
    ["memory zero", () => ({ program: "true", limits: { memoryMaxBytes: 0 } }), "invalid_argument", /memoryMaxBytes must be positive/],
    ["memory fractional", () => ({ program: "true", limits: { memoryMaxBytes: 1e6 + 0.5 } }), "invalid_argument", /must be a whole number/],
    ["memory above the host's", () => ({ program: "true", limits: { memoryMaxBytes: totalmem() + 4096 } }), "invalid_argument", /exceeds the host's memory/],
    ["pids negative", () => ({ program: "true", limits: { pidsMax: -3 } }), "invalid_argument", /pidsMax must be positive/],
    ["pids fractional", () => ({ program: "true", limits: { pidsMax: 2.5 } }), "invalid_argument", /pidsMax must be a whole number/],
    ["pids above pid_max", () => ({ program: "true", limits: { pidsMax: 2 ** 40 } }), "invalid_argument", /exceeds the kernel's pid_max/],
    ["io device missing", () => ({ program: "true", limits: { io: [{ device: "/no/such/disk", readBps: 1e6 }] } }), "invalid_argument", /^io device "\/no\/such\/disk" does not exist or is not reachable by the job's account \(alice, uid \d+\); name its disk by a device node or MAJ:MIN$/],
    ["io on tmpfs", () => ({ program: "true", limits: { io: [{ device: "/dev/shm", readBps: 1e6 }] } }), "invalid_argument", /without a block device/],
    ["io on proc", () => ({ program: "true", limits: { io: [{ device: "/proc/self", writeBps: 1e6 }] } }), "invalid_argument", /without a block device/],
    ["io device not on this host", () => ({ program: "true", limits: { io: [{ device: "250:99", readBps: 1e6 }] } }), "invalid_argument", /not a block device of this host/],
    ["io without a rate", () => ({ program: "true", limits: { io: [{ device: "/tmp" }] } }), "invalid_argument", /sets no rate/],
    ["io rate zero", () => ({ program: "true", limits: { io: [{ device: "/tmp", writeBps: 0 }] } }), "invalid_argument", /writeBps must be positive/],
    ["outputMode unknown", () => ({ program: "true", outputMode: "mixed" as never }), "invalid_argument", /outputMode/],
  ];
  for (const [name, spec, code, message] of cases) {
    test(`${name}: ${code}`, () => rejects(spec(), code, message));
  }

  test("a path where the job's account cannot look is answered exactly like a missing one (cwd, program, io device)", async () => {
    // private/ is root's 0700: whether something exists in it is not for alice's request to learn.
    const answer = async (spec: JobSpec): Promise<string> =>
      fx.manager.start(spec, "alice").then(() => assert.fail("must be refused"), (err: unknown) => (err as Error).message);
    const pairs: [string, (path: string) => JobSpec][] = [
      ["cwd", (path) => ({ program: "true", cwd: path })],
      ["program", (path) => ({ program: path })],
      ["io device", (path) => ({ program: "true", limits: { io: [{ device: path, readBps: 1e6 }] } })],
    ];
    for (const [what, spec] of pairs) {
      const existing = await answer(spec(join(scratch, "private", what === "program" ? "tool" : "sub")));
      const missing = await answer(spec(join(scratch, "private", "nothing-here")));
      assert.equal(existing.replace(/private\/(tool|sub)/g, "private/X"), missing.replaceAll("nothing-here", "X"), what);
    }
  });

  test("a valid limit whose controller this host lacks: failed_precondition naming it", async (t) => {
    const missing = ["cpu", "memory", "pids", "io"].filter((c) => !fx.manager.cgroups.controllers.includes(c));
    if (missing.length === 0) return t.skip("every controller is available here");
    const limits = { cpu: { cpu: 0.5 }, memory: { memoryMaxBytes: 64 << 20 }, pids: { pidsMax: 10 }, io: { io: [{ device: "/tmp", writeBps: 1e7 }] } };
    for (const c of missing) {
      await rejects({ program: "true", limits: limits[c as keyof typeof limits] }, "failed_precondition", new RegExp(`controller ${c} is not available`));
    }
    const [first, second] = missing;
    if (first !== undefined && second !== undefined) {
      const both = { ...limits[first as keyof typeof limits], ...limits[second as keyof typeof limits] };
      await rejects({ program: "true", limits: both }, "failed_precondition", new RegExp(`controllers ${first}, ${second} are not available`));
    }
  });

  test("a bad owner: invalid_argument", async () => {
    await assert.rejects(fx.manager.start({ program: "true" }, 5 as never), { code: "invalid_argument" });
  });

  test("ids: malformed -> invalid_argument, unknown -> not_found, on every call", async () => {
    const unknown = "0000000a-0000-4000-8000-00000000000b";
    for (const id of ["", "nope", unknown.toUpperCase(), `${unknown}x`]) {
      await assert.rejects(fx.manager.get(id), { code: "invalid_argument" });
      await assert.rejects(fx.manager.stop(id), { code: "invalid_argument" });
      assert.throws(() => fx.manager.output(id), { code: "invalid_argument" });
    }
    await assert.rejects(fx.manager.get(unknown), { code: "not_found", message: `no job ${unknown}` });
    await assert.rejects(fx.manager.stop(unknown), { code: "not_found" });
    assert.throws(() => fx.manager.output(unknown), { code: "not_found" });
  });

  test("nothing was left behind: no job, no output directory, no job cgroup (only the standbys' own)", async () => {
    assert.deepEqual(await fx.manager.list(), []);
    // Each standby has an output directory and a cgroup (where it waits) made ahead under its job's id.
    const outputs = readdirSync(join(fx.dataDir, "jobs")).sort();
    const parent = fx.manager.cgroups.parent as string;
    const cgroups = readdirSync(parent, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    assert.deepEqual(cgroups.sort(), outputs);
    const { idle, starting } = fx.manager.standbys;
    assert.equal(outputs.length, idle + starting);
  });

  test("bad output options: invalid_argument", async () => {
    const job = await fx.manager.start({ program: "true" }, "alice");
    assert.throws(() => fx.manager.output(job.id, { stream: "stdin" as never }), { code: "invalid_argument" });
    assert.throws(() => fx.manager.output(job.id, { from: { stdout: -1 } }), { code: "invalid_argument" });
    assert.throws(() => fx.manager.output(job.id, { from: { tailLines: 1.5 } }), { code: "invalid_argument" });
    await assert.rejects(fx.manager.stop(job.id, { graceMs: -1 }), { code: "invalid_argument" });
  });
});

describe("JobManager.create() validation", () => {
  test("a relative dataDir or a cgroupParent escaping the sub-tree: invalid_argument", async () => {
    await assert.rejects(JobManager.create({ dataDir: "rel" }), { code: "invalid_argument" });
    for (const cgroupParent of ["..", "a/../b", "/", ""]) {
      await assert.rejects(JobManager.create({ dataDir: tmpdir(), cgroupParent }), { code: "invalid_argument" }, cgroupParent);
    }
    await assert.rejects(JobManager.create({ dataDir: tmpdir(), defaultGraceMs: -1 }), { code: "invalid_argument" });
  });
});
