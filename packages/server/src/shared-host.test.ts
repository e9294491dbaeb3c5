// What users share on one server, attacked from ordinary (non-admin) users' jobs against real jobexec-server
// processes: the disk the output lives on, the records. Each attack must fail, and every user's jobs and output
// must stay as they were.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmdirSync, utimesSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, test, type TestContext } from "node:test";
import type { Client } from "@connectrpc/connect";
import { HealthCheckResponse_ServingStatus, type JobService, JobState, StopReason } from "@jobexec/proto";
import { type HomeServer, ServerHome } from "./test-support/server-home.ts";
import { readOutput } from "./test-support/test-harness.ts";

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

/** The resident memory of process `pid`, in bytes. */
function rss(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${String(pid)}/status`, "utf8"))?.[1]) * 1024;
}

/** The ids of `owner`'s stored records in the state file of `dataDir`, oldest first. */
function storedIds(dataDir: string, owner: string): string[] {
  const db = new DatabaseSync(join(dataDir, "state.db"), { readOnly: true });
  try {
    return db.prepare("SELECT id FROM jobs WHERE owner = ? ORDER BY seq").all(owner).map((r) => String(r.id));
  } finally {
    db.close();
  }
}

describe("job records", { skip, timeout: 180_000 }, () => {
  test("300 StartJobs with 120 KB of arguments each: finished records cost the server little memory; a user's records are bounded, that user's oldest first, nobody else's", async (t) => {
    const home = await ServerHome.create();
    t.after(() => home.close());
    // A heap of 128 MiB: records that held their arguments (545 KiB a job before) would need 160 MiB for these 300.
    let server = home.start([], ["--max-old-space-size=128"]);
    await server.url();
    let alice = await server.jobs(home.pki.alice);
    const bob = await server.jobs(home.pki.bob);
    const bobs = [await run(bob, "echo bob one"), await run(bob, "echo bob two")];
    // 11000 arguments of 10 bytes: 120 KB with their NULs, in strings as small as the attack could make them.
    const args = Array.from({ length: 11_000 }, (_, i) => String(1_000_000_000 + i));
    const startMany = async (client: Client<typeof JobService>, n: number): Promise<string[]> => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const { job } = await client.startJob({ program: "true", args });
        ids.push(job?.id ?? "");
      }
      for (const id of ids) await readOutput(client.streamOutput({ id, follow: true }));
      return ids;
    };
    // RSS is what V8 sized its heap to as much as what it keeps (single batches of 100 grew it by +3 to +82 MiB, more
    // under load): printed, not asserted. What is asserted is that the server lives through 300 such jobs within its
    // 128 MiB heap, where V8 collects before it grows.
    const first = await startMany(alice, 100);
    const before = rss(server.proc.pid ?? 0);
    await startMany(alice, 100);
    const ids = await startMany(alice, 100);
    const grown = rss(server.proc.pid ?? 0) - before;
    console.log(`# server RSS from 100 to 300 finished jobs with 120 KB of arguments each, heap capped at 128 MiB: +${(grown / mib).toFixed(1)} MiB`);
    assert.equal((await (await server.health(home.pki.admin)).check({})).status, HealthCheckResponse_ServingStatus.SERVING, "the server lives");
    const { job } = await alice.getJob({ id: first[0] ?? "" });
    assert.deepEqual(job?.args, args, "a finished job still reports its arguments");

    // Bounded per user: at start-up, and as jobs end.
    assert.equal(await server.kill("SIGTERM"), 0);
    server = home.start(["--max-records-per-user=20", "--max-record-bytes-per-user=1M"]);
    await server.url();
    alice = await server.jobs(home.pki.alice);
    // Paged by ListJobs' 1 MiB: the state file says which are kept.
    const kept = (): string[] => storedIds(home.dataDir, "alice");
    // 1 MiB holds 7 records of 143 KB (and what each row costs beside its arguments).
    assert.deepEqual(kept(), ids.slice(-7), "alice's newest records that fit in 1 MiB");
    await assert.rejects(alice.getJob({ id: ids.at(-8) ?? "" }), /not found|NotFound|no job/i);
    const more = await startMany(alice, 3);
    assert.deepEqual(kept(), [...ids.slice(-4), ...more]);
    const bobNow = await server.jobs(home.pki.bob);
    assert.deepEqual(storedIds(home.dataDir, "bob"), bobs.map((b) => b.id));
    for (const ran of bobs) assert.equal((await readOutput(bobNow.streamOutput({ id: ran.id }))).stdout.toString(), ran.stdout);
  });
});

/** The SysV IPC objects of `uid` (owner or creator), as "shm 3", "msg 5", "sem 7". */
function sysvIpcOf(uid: number): string[] {
  const found: string[] = [];
  for (const kind of ["shm", "msg", "sem"]) {
    const [header, ...rows] = readFileSync(`/proc/sysvipc/${kind}`, "utf8").trim().split("\n");
    const names = (header ?? "").trim().split(/\s+/);
    for (const row of rows) {
      const fields = row.trim().split(/\s+/);
      if (fields[names.indexOf("uid")] === String(uid) || fields[names.indexOf("cuid")] === String(uid)) found.push(`${kind} ${fields[1] ?? ""}`);
    }
  }
  return found;
}

/** The POSIX message queues whose names start with `tag`, seen through an mqueue mount of the test's own. */
function mqueues(tag: string): string[] {
  const view = mkdtempSync(join(tmpdir(), "jobexec-test-mqueue-"));
  try {
    const script = 'mount -t mqueue mqueue "$1" && ls "$1"';
    const names = execFileSync("unshare", ["--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", view], { encoding: "utf8" });
    return names.split("\n").filter((name) => name.startsWith(tag));
  } finally {
    rmdirSync(view);
  }
}

describe("what an account leaves behind", { skip, timeout: 120_000 }, () => {
  test("SysV IPC and /dev/shm files go when an account's last job ends, not while another user's job uses theirs", async (t) => {
    const home = await ServerHome.create();
    t.after(() => home.close());
    const server = home.start();
    await server.url();
    const alice = await server.jobs(home.pki.alice);
    const bob = await server.jobs(home.pki.bob);
    const tag = `jobexec-ipc-${String(process.pid)}-${String(Date.now())}`;
    t.after(() => rm(`/dev/shm/${tag}-alice`, { force: true }).then(() => rm(`/dev/shm/${tag}-bob`, { force: true })));
    // SysV shared memory, a message queue and a semaphore set; a /dev/shm file; a POSIX message queue (mq_open).
    const mqOpen = `import ctypes, os; ctypes.CDLL("librt.so.1").mq_open(b"/${tag}-WHO", os.O_CREAT | os.O_RDWR, 0o600, None)`;
    const leave = (who: string): string =>
      `umask 077; echo "${who}'s secret" > /dev/shm/${tag}-${who}; ipcmk -M 4096 && ipcmk -Q && ipcmk -S 1 && python3 -c '${mqOpen.replace("WHO", who)}'`;
    // bob's job keeps running with its IPC while alice's ends.
    const { job: bobs } = await bob.startJob({ program: "/bin/sh", args: ["-c", `${leave("bob")} && echo ready && exec sleep 1000`] });
    for await (const m of bob.streamOutput({ id: bobs?.id ?? "", follow: true })) if (m.event.case === "chunk" && String(Buffer.from(m.event.value.data)).includes("ready")) break;
    const bobUid = bobs?.uid ?? 0;
    assert.equal(sysvIpcOf(bobUid).length, 3);

    const ran = await run(alice, leave("alice"));
    assert.match(ran.stdout, /Shared memory id: \d+\nMessage queue id: \d+\nSemaphore id: \d+/);
    const { job } = await alice.getJob({ id: ran.id });
    const aliceUid = job?.uid ?? 0;
    const removed = await server.waitForLog((l) => String(l.msg).startsWith(`removed what the jobs of uid ${String(aliceUid)} ("alice") left`));
    assert.match(String(removed.msg), new RegExp(`shared memory segment \\d+, message queue \\d+, semaphore set \\d+, /dev/shm/${tag}-alice, POSIX message queue /${tag}-alice$`));
    assert.deepEqual(sysvIpcOf(aliceUid), []);
    assert.deepEqual(mqueues(tag), [`${tag}-bob`]);
    assert.equal(existsSync(`/dev/shm/${tag}-alice`), false);
    assert.equal(sysvIpcOf(bobUid).length, 3, "bob's job still runs: its IPC stays");
    assert.equal(readFileSync(`/dev/shm/${tag}-bob`, "utf8"), "bob's secret\n");

    await bob.stopJob({ id: bobs?.id ?? "" });
    await server.waitForLog((l) => String(l.msg).startsWith(`removed what the jobs of uid ${String(bobUid)} ("bob") left`));
    assert.deepEqual(sysvIpcOf(bobUid), []);
    assert.equal(existsSync(`/dev/shm/${tag}-bob`), false);
    assert.deepEqual(mqueues(tag), []);
    // alice's next job starts as usual, with nothing of her earlier one's IPC.
    assert.equal((await run(alice, "ipcs -m | grep -c '^0x' || true")).stdout, "0\n");
  });

  test("a dynamic uid whose earlier owner left a file in /tmp is not given to a new identity", async (t) => {
    // A range of our own, away from the default one other tests use.
    const range = "--uid-range=65400-65519";
    const note = `/tmp/jobexec-uid-reuse-${String(process.pid)}-${String(Date.now())}`;
    t.after(() => rm(note, { force: true }));
    const first = await ServerHome.create();
    t.after(() => first.close());
    const server = first.start([range]);
    await server.url();
    const alice = await server.jobs(first.pki.alice);
    const ran = await run(alice, `umask 077; echo "alice's secret" > ${note}`);
    const aliceUid = (await alice.getJob({ id: ran.id })).job?.uid ?? 0;
    // The first server's data directory goes, and with it alice's mapping: its claim on the uid is stale once old.
    await first.close();
    const past = new Date(Date.now() - 3_600_000);
    utimesSync(`/run/jobexec/dynamic-uids/${String(aliceUid)}`, past, past);

    const second = await ServerHome.create();
    t.after(() => second.close());
    const next = second.start([range]);
    await next.url();
    const bob = await next.jobs(second.pki.bob);
    const read = await run(bob, `cat ${note} 2>&1; true`);
    assert.match(read.stdout, /Permission denied/);
    assert.notEqual((await bob.getJob({ id: read.id })).job?.uid, aliceUid);
    // The lowest free uid, alice's, was the first candidate.
    await next.waitForLog((l) => l.msg === `uid ${String(aliceUid)} is not given to "bob": something of an earlier owner is left (it owns ${note})`);
  });
});
