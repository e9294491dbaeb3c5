// The queue through real jobexec-server processes and their real state.db: fair share, order, capacities, cancel,
// and a SIGKILL of the server while jobs wait and start.
import assert from "node:assert/strict";
import { chmod, readFile } from "node:fs/promises";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, type Client } from "@connectrpc/connect";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { DependencyCondition, HealthCheckResponse_ServingStatus, type Job, type JobService, JobState, QueuePolicy, StopReason } from "@jobexec/proto";
import { ServerHome } from "./test-support/server-home.ts";
import { createPki, type Pki } from "./test-support/pki.ts";
import { failure, readOutput } from "./test-support/test-harness.ts";

type Jobs = Client<typeof JobService>;

/** Polls `check` every 50 ms until it returns something (the test's own timeout bounds the wait). */
async function until<T>(check: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    await sleep(50);
  }
}

async function stateOf(client: Jobs, id: string): Promise<Job> {
  const { job } = await client.getJob({ id });
  assert.ok(job);
  return job;
}

/** Resolves with the job once it is in `state`. */
function reaches(client: Jobs, id: string, state: JobState): Promise<Job> {
  return until(async () => {
    const job = await stateOf(client, id);
    return job.state === state ? job : undefined;
  });
}

const sleeper = { program: "sleep", args: ["1000"] };

describe("the queue, through real servers", { timeout: 240_000 }, () => {
  let pki: Pki;
  before(async () => {
    pki = await createPki();
  });

  test("fair share across users, priority then FIFO within one; QUEUED with position and reason; cancel; refusals naming their field or flag", async (t) => {
    const home = await ServerHome.create(pki);
    t.after(() => home.close());
    const server = home.start(["--max-running=3", "--standby=0", "--memory-capacity=1G"]);
    const [alice, bob, admin] = await Promise.all([server.jobs(pki.alice), server.jobs(pki.bob), server.jobs(pki.admin)]);
    const holders: Job[] = [];
    for (let i = 0; i < 3; i++) holders.push((await alice.startJob(sleeper)).job as Job);
    assert.deepEqual(holders.map((j) => j.state), [JobState.RUNNING, JobState.RUNNING, JobState.RUNNING]);
    const a1 = (await alice.startJob(sleeper)).job as Job;
    const a2 = (await alice.startJob(sleeper)).job as Job;
    const a3 = (await alice.startJob({ ...sleeper, priority: 7 })).job as Job;
    const b1 = (await bob.startJob(sleeper)).job as Job;
    const b2 = (await bob.startJob(sleeper)).job as Job;
    const c1 = (await admin.startJob(sleeper)).job as Job;
    assert.equal(a1.state, JobState.QUEUED);
    assert.equal(a1.pid, 0);
    assert.equal(a1.cgroup, "");
    assert.equal(a1.queueReason, "host: 3 jobs running (--max-running)");
    assert.equal(a1.queuePosition, 1);
    assert.equal(a3.priority, 7);
    assert.deepEqual(await Promise.all([a1, a2, a3].map(async (j) => (await stateOf(alice, j.id)).queuePosition)), [2, 3, 1]);
    const listed = await alice.listJobs({ states: [JobState.QUEUED] });
    assert.deepEqual(listed.jobs.map((j) => [j.id, j.queuePosition]), [[a3.id, 1], [a2.id, 3], [a1.id, 2]]);

    // Refusals: over a capacity, the policy REFUSE, a bad priority or policy.
    const big = await failure(alice.startJob({ ...sleeper, limits: { memoryMaxBytes: 2n * 1024n ** 3n } }));
    assert.equal(big.code, Code.FailedPrecondition);
    assert.equal(big.rawMessage, "limits.memoryMaxBytes 2 GiB is more than the host's memory capacity of 1 GiB (--memory-capacity): the job could never start");
    const refused = await failure(bob.startJob({ ...sleeper, queuePolicy: QueuePolicy.REFUSE }));
    assert.equal(refused.code, Code.ResourceExhausted);
    assert.equal(refused.rawMessage, "the job cannot start now (host: 3 jobs running (--max-running)) and its request asks not to queue");
    const priority = await failure(alice.startJob({ ...sleeper, priority: 1001 }));
    assert.equal(priority.code, Code.InvalidArgument);
    assert.equal(priority.rawMessage, "priority must be a whole number from -1000 to 1000");
    const policy = await failure(alice.startJob({ ...sleeper, queuePolicy: 9 as QueuePolicy }));
    assert.equal(policy.code, Code.InvalidArgument);
    assert.equal(policy.rawMessage, "queue_policy 9 is not QUEUE_POLICY_QUEUE or QUEUE_POLICY_REFUSE");

    // A queued job cannot be deleted; stopping it cancels it at once.
    assert.equal((await failure(bob.deleteJob({ id: b2.id }))).code, Code.FailedPrecondition);
    const { job: cancelled } = await bob.stopJob({ id: b2.id });
    assert.equal(cancelled?.state, JobState.STOPPED);
    assert.equal(cancelled?.stopReason, StopReason.CANCELLED);
    assert.equal(cancelled?.stoppedBy, "bob");
    assert.equal(cancelled?.queuePosition, 0);
    assert.equal(cancelled?.account, "", "it never ran");

    // Each end admits the next job of the user with the fewest running (ties: the earliest queued).
    await alice.stopJob({ id: holders[0]?.id as string, gracePeriod: { seconds: 0n, nanos: 0 } });
    await reaches(bob, b1.id, JobState.RUNNING); // bob 0 and admin 0 running, bob queued first
    await alice.stopJob({ id: holders[1]?.id as string, gracePeriod: { seconds: 0n, nanos: 0 } });
    await reaches(admin, c1.id, JobState.RUNNING); // admin 0 running
    await alice.stopJob({ id: holders[2]?.id as string, gracePeriod: { seconds: 0n, nanos: 0 } });
    await reaches(alice, a3.id, JobState.RUNNING); // alice 0 running: her highest priority first
    assert.deepEqual(await Promise.all([a1, a2].map(async (j) => [(await stateOf(alice, j.id)).state, (await stateOf(alice, j.id)).queuePosition])), [
      [JobState.QUEUED, 1],
      [JobState.QUEUED, 2],
    ]);
    assert.equal((await stateOf(bob, b2.id)).state, JobState.STOPPED, "a cancelled job never starts");
    for (const [client, job] of [[alice, a3], [alice, a1], [alice, a2], [bob, b1], [admin, c1]] as const) {
      await client.stopJob({ id: job.id, gracePeriod: { seconds: 0n, nanos: 0 } });
    }
  });

  test("--queue-weight: shares follow the weights (alice 2, bob 1: 4 and 2 of 6 slots), and each end gives the slot back to whoever is below its share", async (t) => {
    const home = await ServerHome.create(pki);
    t.after(() => home.close());
    const server = home.start(["--max-running=6", "--standby=0", "--queue-weight=alice=2"]);
    const [alice, bob, admin] = await Promise.all([server.jobs(pki.alice), server.jobs(pki.bob), server.jobs(pki.admin)]);
    const running = async (): Promise<Record<string, number>> => {
      const counts: Record<string, number> = {};
      for (const job of (await admin.listJobs({ states: [JobState.RUNNING], allOwners: true })).jobs) counts[job.owner] = (counts[job.owner] ?? 0) + 1;
      return counts;
    };
    /** Waits until `total` jobs run (the admissions after a stop are done), then returns the counts per owner. */
    const settled = (total: number) =>
      until(async () => {
        const counts = await running();
        return Object.values(counts).reduce((a, b) => a + b, 0) === total ? counts : undefined;
      });
    const stop = (client: Jobs, id: string) => client.stopJob({ id, gracePeriod: { seconds: 0n, nanos: 0 } });
    // The admin fills the host, then alice and bob queue more than it runs.
    const holders: Job[] = [];
    for (let i = 0; i < 6; i++) holders.push((await admin.startJob(sleeper)).job as Job);
    for (let i = 0; i < 8; i++) assert.equal((await alice.startJob(sleeper)).job?.state, JobState.QUEUED);
    for (let i = 0; i < 8; i++) assert.equal((await bob.startJob(sleeper)).job?.state, JobState.QUEUED);
    for (const holder of holders) await stop(admin, holder.id);
    assert.deepEqual(await settled(6), { alice: 4, bob: 2 });
    // Without weights this would be 3 and 3 (the unweighted test above): a freed slot goes to the owner furthest
    // below its share, so the shares hold as jobs end.
    for (const [client, owner] of [[bob, "bob"], [alice, "alice"], [alice, "alice"], [bob, "bob"]] as const) {
      const mine = (await client.listJobs({ states: [JobState.RUNNING] })).jobs;
      await stop(client, mine[0]?.id as string);
      assert.deepEqual(await settled(6), { alice: 4, bob: 2 }, `after one of ${owner}'s ended`);
    }
    for (const [client, state] of [[alice, JobState.RUNNING], [alice, JobState.QUEUED], [bob, JobState.RUNNING], [bob, JobState.QUEUED]] as const) {
      for (const job of (await client.listJobs({ states: [state] })).jobs) await stop(client, job.id);
    }
  });

  test("SIGKILL of the server while jobs wait and start: after a restart every submitted job ran exactly once, in order", async (t) => {
    const home = await ServerHome.create(pki);
    t.after(() => home.close());
    const log = join(home.dir, "ran.log");
    // The jobs' account appends to the log in the (otherwise 0711) home.
    await chmod(home.dir, 0o777);
    const args = ["--max-running=1", "--standby=0"];
    let server = home.start(args);
    let alice = await server.jobs(pki.alice);
    const total = 500;
    const ids: string[] = [];
    for (let i = 0; i < total; i++) {
      const { job } = await alice.startJob({ program: "/bin/sh", args: ["-c", `echo "$JOBEXEC_JOB_ID" >> ${log}`] });
      ids.push(job?.id as string);
    }
    const lines = async (): Promise<string[]> => (await readFile(log, "utf8").catch(() => "")).split("\n").filter((l) => l !== "");
    // Killed while the queue drains: some ran, one may be between its admission and its start, most wait.
    await until(async () => ((await lines()).length >= 20 ? true : undefined));
    assert.equal(await server.kill("SIGKILL"), null);
    const before = (await lines()).length;
    assert.ok(before < total, "jobs were still queued at the crash");

    server = home.start(args);
    alice = await server.jobs(pki.alice);
    await until(async () => ((await alice.listJobs({ states: [JobState.QUEUED, JobState.RUNNING] })).jobs.length === 0 ? true : undefined));
    const ran = await lines();
    assert.equal(new Set(ran).size, ran.length, "no job ran twice");
    assert.deepEqual(ran, ids, "every job ran, in the order submitted");
    const { jobs } = await alice.listJobs({ pageSize: 1000 });
    assert.equal(jobs.length, total);
    assert.ok(jobs.every((j) => j.state === JobState.EXITED), "none failed or was lost");
  });

  test("a queued job costs its record only: 400 queued jobs with 100 KB of environment each live in a 64 MiB heap, and the last one still gets its environment when it runs", async (t) => {
    const home = await ServerHome.create(pki);
    t.after(() => home.close());
    // A queued job whose record held its request or validated spec (environment included, as before) would hold
    // 400 x 100 KB of strings in 400 000 properties: more than this heap holds, and the server would die of it.
    const server = home.start(["--max-running=1", "--standby=0"], ["--max-old-space-size=64"]);
    const alice = await server.jobs(pki.alice);
    const holder = (await alice.startJob(sleeper)).job as Job;
    // 1000 variables of 100 bytes: 107 KB with their names and NULs, under the 128 KiB cap.
    const env = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`V${String(i).padStart(4, "0")}`, `${String(i)}:${"x".repeat(95)}`]));
    const ids: string[] = [];
    for (let i = 0; i < 400; i++) {
      const { job } = await alice.startJob({ program: "/bin/sh", args: ["-c", `echo "$V0999"`], env });
      assert.equal(job?.state, JobState.QUEUED);
      ids.push(job.id);
    }
    assert.equal((await (await server.health(pki.admin)).check({})).status, HealthCheckResponse_ServingStatus.SERVING, "the server lives");
    for (const id of ids.slice(0, -1)) await alice.stopJob({ id });
    await alice.stopJob({ id: holder.id });
    const last = ids.at(-1) as string;
    assert.equal((await reaches(alice, last, JobState.EXITED)).exitCode, 0);
    assert.equal((await readOutput(alice.streamOutput({ id: last }))).stdout.toString(), `999:${"x".repeat(95)}\n`, "its environment, read back from state.db at its admission");
  });

  test("start_after and not_before: visibility, a failed chain, bad input named, and a start time kept across a SIGKILL", async (t) => {
    const home = await ServerHome.create(pki);
    t.after(() => home.close());
    let server = home.start(["--standby=0"]);
    let alice = await server.jobs(pki.alice);
    const [bob, admin] = await Promise.all([server.jobs(pki.bob), server.jobs(pki.admin)]);
    const failing = (await alice.startJob({ program: "/bin/sh", args: ["-c", "sleep 0.3; exit 3"] })).job as Job;
    const after = (id: string, condition: DependencyCondition = DependencyCondition.UNSPECIFIED) => ({ startAfter: [{ id, condition }] });
    // Another user's job is NOT_FOUND exactly like a missing one; an admin may name anyone's.
    const hidden = await failure(bob.startJob({ program: "true", ...after(failing.id) }));
    const missing = await failure(bob.startJob({ program: "true", ...after("6a1f0b6e-7d7c-4a44-9a4e-2d1c1c9b9f00") }));
    assert.deepEqual([hidden.code, missing.code], [Code.NotFound, Code.NotFound]);
    assert.equal(hidden.rawMessage, `job ${failing.id} not found`);
    const bad = await failure(alice.startJob({ program: "true", startAfter: [{ id: "x", condition: DependencyCondition.ENDED }] }));
    assert.equal(bad.code, Code.InvalidArgument);
    assert.equal(bad.rawMessage, 'start_after[0].id "x" is not a job id (a lowercase UUID)');
    const badCondition = await failure(alice.startJob({ program: "true", ...after(failing.id, 7 as DependencyCondition) }));
    assert.equal(badCondition.rawMessage, "start_after[0].condition 7 is not SUCCEEDED, ENDED or FAILED");
    const middle = (await alice.startJob({ program: "true", ...after(failing.id) })).job as Job;
    const last = (await admin.startJob({ program: "true", ...after(middle.id, DependencyCondition.SUCCEEDED) })).job as Job;
    assert.equal(middle.state, JobState.QUEUED);
    assert.equal(middle.queueReason, `dependency ${failing.id} (required: succeeded)`);
    assert.deepEqual(middle.startAfter.map((d) => [d.id, d.condition]), [[failing.id, DependencyCondition.SUCCEEDED]]);
    const ended = await reaches(admin, last.id, JobState.FAILED);
    assert.equal((await stateOf(alice, middle.id)).failureReason, `dependency ${failing.id} exited 3 (required: succeeded)`);
    assert.equal(ended.failureReason, `dependency ${middle.id} failed to start (required: succeeded)`);

    const at = new Date(Date.now() + 2500);
    const later = (await alice.startJob({ program: "true", notBefore: timestampFromDate(at) })).job as Job;
    assert.equal(later.state, JobState.QUEUED);
    assert.equal(later.queueReason, `not before ${at.toISOString()}`);
    assert.equal(await server.kill("SIGKILL"), null);
    server = home.start(["--standby=0"]);
    alice = await server.jobs(pki.alice);
    const waiting = await stateOf(alice, later.id);
    assert.equal(waiting.state, JobState.QUEUED);
    assert.equal(waiting.notBefore && timestampDate(waiting.notBefore).getTime(), at.getTime());
    const done = await reaches(alice, later.id, JobState.EXITED);
    assert.ok(done.startTime && timestampDate(done.startTime).getTime() >= at.getTime(), "not started before its moment");
  });
});
