// What users share on one server, attacked from ordinary (non-admin) users' jobs against real jobexec-server
// processes: the disk the output lives on, the records. Each attack must fail, and every user's jobs and output
// must stay as they were.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import type { Client } from "@connectrpc/connect";
import { type JobService, JobState, StopReason } from "@jobexec/proto";
import { type HomeServer, ServerHome } from "./server-home.ts";
import { readOutput } from "./test-harness.ts";

const root = process.getuid?.() === 0;
const skip = root ? false : "needs root (dynamic accounts, a tmpfs)";
const mib = 1024 * 1024;

/** A data directory on a tmpfs of `size` the test mounts (never the real disk), and a home for servers on it. */
async function homeOnTmpfs(t: TestContext, size: string): Promise<ServerHome> {
  const mount = await mkdtemp(join(tmpdir(), "jobexec-shared-host-"));
  // Searchable by jobs' dynamic accounts, like any data directory's parents.
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0711`, "tmpfs", mount]);
  t.after(async () => {
    execFileSync("umount", ["-l", mount]);
    await rm(mount, { recursive: true, force: true });
  });
  const home = await ServerHome.create(undefined, join(mount, "data"));
  t.after(() => home.close());
  return home;
}

/** Runs a shell command as `client`'s job to its end; returns its id and what it printed. */
async function run(client: Client<typeof JobService>, script: string): Promise<{ id: string; stdout: string }> {
  const { job } = await client.startJob({ program: "/bin/sh", args: ["-c", script] });
  const out = await readOutput(client.streamOutput({ id: job?.id ?? "", follow: true }));
  return { id: job?.id ?? "", stdout: out.stdout.toString() };
}

/** Waits for the server to log the end of job `id` (without reading its output, which may be huge and sparse). */
async function ended(server: HomeServer, id: string): Promise<void> {
  await server.waitForLog((l) => l.jobId === id && /^job (exited|stopped)/.test(String(l.msg)));
}

/** Python in the job, on its own stdout (fd 1): the job cannot reopen its output file, only use the descriptor. */
const python = (code: string): string => `exec python3 -c '${code}'`;
const fallocate = (mode: number, bytes: number): string =>
  `import ctypes; ctypes.CDLL(None).fallocate(1, ${String(mode)}, ctypes.c_longlong(0), ctypes.c_longlong(${String(bytes)}))`;

describe("the disk of job output", { skip, timeout: 120_000 }, () => {
  test("a sparse 11 GiB stdout or 64 MiB fallocated under a 1 MiB limit: killed by the limit, nobody's jobs removed", async (t) => {
    const home = await homeOnTmpfs(t, "96m");
    // Default budgets (--min-free only lowered for the small tmpfs): 10 GiB in all, the sparse file's size once wiped every user's finished jobs.
    const server = home.start(["--min-free=4M"]);
    await server.url();
    const alice = await server.jobs(home.pki.alice);
    const bob = await server.jobs(home.pki.bob);
    const before = [await run(bob, "echo bob one"), await run(alice, "echo alice one"), await run(bob, "echo bob two")];

    const { job: sparse } = await alice.startJob({ program: "/bin/sh", args: ["-c", python("import os, time; os.ftruncate(1, 11 << 30); time.sleep(1000)")] });
    await ended(server, sparse?.id ?? "");
    const sparseDone = (await alice.getJob({ id: sparse?.id ?? "" })).job;
    assert.equal(sparseDone?.stopReason, StopReason.OUTPUT_LIMIT, "its size is past its limit (1 GiB): killed, as before");
    assert.equal(sparseDone?.output?.stdoutBytes, 11n << 30n);

    const { job: allocated } = await alice.startJob({
      program: "/bin/sh",
      args: ["-c", python(`import time; ${fallocate(1, 64 * mib)}; time.sleep(1000)`)],
      maxOutputBytes: BigInt(mib),
    });
    await ended(server, allocated?.id ?? "");
    const allocatedDone = (await alice.getJob({ id: allocated?.id ?? "" })).job;
    assert.equal(allocatedDone?.stopReason, StopReason.OUTPUT_LIMIT, "64 MiB of blocks no reader sees (FALLOC_FL_KEEP_SIZE) count against its 1 MiB");
    assert.equal(allocatedDone?.output?.stdoutBytes, 0n);

    // Every user's jobs and output are there, the attacker's included.
    for (const [client, ran] of [[bob, before[0]], [alice, before[1]], [bob, before[2]]] as const) {
      const out = await readOutput(client.streamOutput({ id: ran?.id ?? "" }));
      assert.equal(out.stdout.toString(), ran?.stdout);
      assert.equal(out.job?.state, JobState.EXITED);
    }
    assert.equal((await bob.listJobs({})).jobs.length, 2);
    assert.equal((await alice.listJobs({})).jobs.length, 3);
    assert.equal(server.lines.filter((l) => String(l.msg).startsWith("removed finished job")).length, 0);
  });

  test("over its per-user budget (on disk), a user's own oldest jobs go, never another user's", async (t) => {
    const home = await homeOnTmpfs(t, "128m");
    const server = home.start(["--min-free=4M", "--max-output=32M", "--output-budget-per-user=32M", "--output-budget=64M"]);
    await server.url();
    const alice = await server.jobs(home.pki.alice);
    const bob = await server.jobs(home.pki.bob);
    const bobs = [await run(bob, "head -c 16M /dev/zero"), await run(bob, "head -c 15M /dev/zero; echo bob")];
    const first = await run(alice, "head -c 4M /dev/zero");
    // 30 MiB allocated, nothing written: under its limit (allocation counts beyond the limit's size again), and it
    // takes 30 MiB of alice's 32: her older job goes, however old bob's are.
    const reserved = await run(alice, python(fallocate(1, 30 * mib)));
    const ids = async (client: Client<typeof JobService>): Promise<string[]> => (await client.listJobs({})).jobs.map((j) => j.id).reverse();
    assert.deepEqual(await ids(alice), [reserved.id]);
    const removal = await server.waitForLog((l) => l.jobId === first.id && String(l.msg).startsWith("removed finished job"));
    assert.match(String(removal.msg), /its owner's finished jobs' output \(\d+ bytes on disk\) exceeds the per-user budget of 33554432 bytes; it is the owner's oldest/);
    const last = await run(alice, "head -c 3M /dev/zero; echo alice");
    assert.deepEqual(await ids(alice), [last.id], "33 MiB: the 30 MiB went");
    assert.deepEqual(await ids(bob), bobs.map((b) => b.id));
    for (const ran of bobs) assert.equal((await readOutput(bob.streamOutput({ id: ran.id }))).stdout.length, ran.stdout.length);
  });
});
