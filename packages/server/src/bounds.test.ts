// What bounds jobs and the disk, through real jobexec-server processes: output limit, timeout, retention, full disk.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Code } from "@connectrpc/connect";
import { HealthCheckResponse_ServingStatus, JobState, StopReason } from "@jobexec/proto";
import { ServerHome, type HomeServer } from "./test-support/server-home.ts";
import { failure, readOutput } from "./test-support/test-harness.ts";

const mib = 1024 * 1024;

describe("output limit and timeout", { timeout: 60_000 }, () => {
  let home: ServerHome;
  let server: HomeServer;
  before(async () => {
    home = await ServerHome.create();
    server = home.start(["--max-output=64M", "--max-timeout=10s", "--output-budget=1G"]);
    await server.url();
  });
  after(() => home.close());

  test("a job writing as fast as it can past max_output_bytes is killed (whole tree), output kept; the overshoot is bounded", async () => {
    const alice = await server.jobs(home.pki.alice);
    const limit = 4 * mib;
    const { job } = await alice.startJob({ program: "head", args: ["-c", String(4 * 1024 * mib), "/dev/zero"], maxOutputBytes: BigInt(limit) });
    assert.equal(job?.maxOutputBytes, BigInt(limit));
    const out = await readOutput(alice.streamOutput({ id: job?.id ?? "", follow: true }));
    const done = out.job;
    assert.equal(done?.state, JobState.STOPPED);
    assert.equal(done?.stopReason, StopReason.OUTPUT_LIMIT);
    assert.equal(done?.signal, "SIGKILL");
    const written = Number(done?.output?.stdoutBytes);
    assert.ok(written >= limit, "output kept up to the limit at least");
    assert.equal(out.stdout.length, written);
    const overshoot = written - limit;
    console.log(`# overshoot past a 4 MiB limit (head -c from /dev/zero through the server): ${(overshoot / mib).toFixed(2)} MiB`);
    assert.ok(overshoot < 256 * mib, `overshoot ${String(overshoot)} bytes`);
  });

  test("max_output_bytes defaults to --max-output and may not exceed it or be 0", async () => {
    const alice = await server.jobs(home.pki.alice);
    const { job } = await alice.startJob({ program: "true" });
    assert.equal(job?.maxOutputBytes, BigInt(64 * mib));
    const over = await failure(alice.startJob({ program: "true", maxOutputBytes: BigInt(64 * mib + 1) }));
    assert.equal(over.code, Code.InvalidArgument);
    assert.match(over.rawMessage, /exceeds the server's maximum of 67108864 bytes/);
    assert.equal((await failure(alice.startJob({ program: "true", maxOutputBytes: 0n }))).code, Code.InvalidArgument);
  });

  test("a timeout stops the job with the default grace, recorded TIMEOUT; --max-timeout caps and defaults it", async () => {
    const alice = await server.jobs(home.pki.alice);
    const began = Date.now();
    const { job } = await alice.startJob({ program: "sleep", args: ["1000"], timeout: { seconds: 0n, nanos: 500_000_000 } });
    assert.deepEqual([job?.timeout?.seconds, job?.timeout?.nanos], [0n, 500_000_000]);
    const { job: done } = await readOutput(alice.streamOutput({ id: job?.id ?? "", follow: true }));
    assert.ok(Date.now() - began >= 500);
    assert.equal(done?.state, JobState.STOPPED);
    assert.equal(done?.stopReason, StopReason.TIMEOUT);
    assert.equal(done?.signal, "SIGTERM");
    assert.equal(done?.stoppedBy, "");
    const { job: defaulted } = await alice.startJob({ program: "true" });
    assert.equal(defaulted?.timeout?.seconds, 10n, "jobs without a timeout get --max-timeout");
    const over = await failure(alice.startJob({ program: "true", timeout: { seconds: 11n, nanos: 0 } }));
    assert.equal(over.code, Code.InvalidArgument);
    assert.equal((await failure(alice.startJob({ program: "true", timeout: { seconds: 0n, nanos: 0 } }))).code, Code.InvalidArgument);
    assert.equal((await failure(alice.startJob({ program: "true", timeout: { seconds: -1n, nanos: 0 } }))).code, Code.InvalidArgument);
  });
});

describe("retention", { timeout: 60_000 }, () => {
  test("by age (--retain) and by budget (--output-budget): oldest first, record and output, logged, also across a restart", async (t) => {
    const home = await ServerHome.create();
    t.after(() => home.close());
    // Budgets count what output takes on disk: whole blocks. The per-user budget defaults to all of --output-budget
    // here, and with one user it is the one reached.
    const flags = ["--retain=2s", "--max-output=64K", "--output-budget=128K"];
    let server = home.start(flags);
    await server.url();
    const alice = await server.jobs(home.pki.alice);
    const run = async (bytes: number): Promise<string> => {
      const { job } = await alice.startJob({ program: "head", args: ["-c", String(bytes), "/dev/zero"] });
      await readOutput(alice.streamOutput({ id: job?.id ?? "", follow: true }));
      return job?.id ?? "";
    };
    const ids = async (): Promise<string[]> => (await alice.listJobs({})).jobs.map((j) => j.id).reverse();
    const a = await run(64 * 1024);
    const b = await run(64 * 1024);
    assert.deepEqual(await ids(), [a, b]);
    const c = await run(100);
    assert.deepEqual(await ids(), [b, c], "132 KiB on disk > 128 KiB: the oldest went");
    await server.waitForLog((l) => l.jobId === a && String(l.msg).startsWith("removed finished job: its owner's finished jobs' output (135168 bytes on disk)"));
    assert.equal(existsSync(join(home.dataDir, "jobs", a)), false);
    for (const id of [b, c]) await server.waitForLog((l) => l.jobId === id && String(l.msg).startsWith("removed finished job: it ended more than the retention period"));
    assert.deepEqual(await ids(), [], "older than --retain, without another job ending");
    const d = await run(10);
    assert.equal(await server.kill("SIGTERM"), 0);
    await sleep(2100);
    server = home.start(flags);
    await server.waitForLog((l) => l.jobId === d && String(l.msg).startsWith("removed finished job"));
    assert.deepEqual((await (await server.jobs(home.pki.alice)).listJobs({})).jobs, []);
  });
});

describe("a full disk", { timeout: 120_000 }, () => {
  const root = process.getuid?.() === 0;
  test("StartJob is RESOURCE_EXHAUSTED, the server stays healthy, a job writing into the full disk ends and its record is kept", { skip: root ? false : "mounting a tmpfs needs root" }, async (t) => {
    const mount = await mkdtemp(join(tmpdir(), "jobexec-full-disk-"));
    // Searchable by jobs' dynamic accounts, like any data directory's parents.
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=24m,mode=0711", "tmpfs", mount]);
    t.after(async () => {
      execFileSync("umount", ["-l", mount]);
      await rm(mount, { recursive: true, force: true });
    });
    const home = await ServerHome.create(undefined, join(mount, "data"));
    t.after(() => home.close());
    const server = home.start(["--min-free=4M"]);
    await server.url();
    const alice = await server.jobs(home.pki.alice);
    // The test's own ballast, removed later to free space: 8 MiB.
    const ballast = join(mount, "ballast");
    await writeFile(ballast, Buffer.alloc(8 * mib));
    const { job } = await alice.startJob({ program: "/bin/sh", args: ["-c", "exec head -c 64M /dev/zero"] });
    assert.ok(job);
    const out = await readOutput(alice.streamOutput({ id: job.id, follow: true }));
    assert.equal(out.job?.state, JobState.EXITED, "the job saw its own write errors and ended");
    assert.ok(out.stdout.length < 24 * mib);

    const refused = await failure(alice.startJob({ program: "true" }));
    assert.equal(refused.code, Code.ResourceExhausted);
    assert.match(refused.rawMessage, new RegExp(`^the data directory ${home.dataDir} has [\\d.]+ (bytes|MiB) free, less than the 4\\.0 MiB kept free for job output and records: no job can start until space is freed$`));
    const health = await (await server.health(home.pki.alice)).check({});
    assert.equal(health.status, HealthCheckResponse_ServingStatus.SERVING);
    assert.equal((await alice.getJob({ id: job.id })).job?.state, JobState.EXITED);
    assert.ok((await alice.listJobs({})).jobs.some((j) => j.id === job.id));

    // The end record could not be written to the full disk: logged, and retried until space came back.
    const failed = await server.waitForLog((l) => l.level === "error" && String(l.msg).startsWith("cannot write a job record"));
    assert.equal(failed.jobId, job.id);
    await rm(ballast);
    await server.waitForLog((l) => l.jobId === job.id && /^job record written to .* after \d+ attempts$/.test(String(l.msg)));
    const { job: next } = await alice.startJob({ program: "true" });
    assert.equal(next?.state, JobState.RUNNING, "StartJob works again once space is freed");
    assert.equal(await server.kill("SIGTERM"), 0);

    const restarted = home.start(["--min-free=1M"]);
    await restarted.url();
    const kept = (await (await restarted.jobs(home.pki.alice)).getJob({ id: job.id })).job;
    assert.equal(kept?.state, JobState.EXITED, "the end written after the retry survived the restart");
    assert.equal(kept?.exitStatusUnknown, false);
    assert.equal(kept?.exitCode, 1, "head's own exit status: it could not write everything");
  });
});
