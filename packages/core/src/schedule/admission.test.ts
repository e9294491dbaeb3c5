// The admission policy alone: no processes, no store, only queues, loads and capacities.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { blocked, type Capacities, nextAdmission, type QueueEntry } from "./admission.ts";
import { type Condition, type Dependency, type DependencyJob, evaluate } from "./dependencies.ts";
import { JobQueue } from "./job-queue.ts";
import { RunningLoad } from "./running-load.ts";

const gib = 1024 ** 3;
const caps = (over: Partial<{ maxRunning: number; memoryBytes: number; cpus: number; starvationMs: number; weights: Record<string, number> }> = {}): Capacities => ({
  maxRunning: { value: over.maxRunning ?? Infinity, name: "--max-running" },
  memoryBytes: { value: over.memoryBytes ?? 16 * gib, name: "--memory-capacity" },
  cpus: { value: over.cpus ?? 2, name: "--cpu-capacity" },
  starvationMs: over.starvationMs ?? 300_000,
  ...(over.weights === undefined ? {} : { weights: new Map(Object.entries(over.weights)) }),
});

let seq = 0;
function job(owner: string, over: Partial<QueueEntry> = {}): QueueEntry {
  seq++;
  return { id: `${owner}-${String(seq)}`, owner, seq, priority: 0, maxRunning: 2, maxRunningName: "--max-running-per-user", memoryBytes: 0, cpus: 0, queuedAt: 0, ...over };
}

/** Admits from `queue` until the policy says no, holding each admitted job in `load`; returns their ids in order. */
function drain(queue: JobQueue, load: RunningLoad, c: Capacities, now = 0): string[] {
  const admitted: string[] = [];
  for (let next = nextAdmission(queue.heads(), load, c, now); next !== undefined; next = nextAdmission(queue.heads(), load, c, now)) {
    queue.remove(next.id);
    load.hold(next);
    admitted.push(next.id);
  }
  return admitted;
}

describe("admission policy", () => {
  test("FIFO within a user, priority first: equal priorities keep their order", () => {
    const queue = new JobQueue();
    const a = job("alice");
    const b = job("alice", { priority: 5 });
    const c = job("alice");
    const d = job("alice", { priority: 5 });
    for (const j of [a, b, c, d]) queue.add(j);
    assert.deepEqual([b, d, a, c].map((j) => queue.position(j.id)), [1, 2, 3, 4]);
    assert.deepEqual(drain(queue, new RunningLoad(), caps(), 0).length, 2, "alice's own limit of 2");
    assert.deepEqual(queue.heads().map((h) => h.id), [a.id]);
  });

  test("the leading jobs: each owner's next first, then each owner's second, in queue order, at most as many as asked", () => {
    const queue = new JobQueue();
    const [a1, a2, a3] = [job("alice"), job("alice"), job("alice")];
    const [b1, b2] = [job("bob"), job("bob", { priority: 1 })];
    for (const j of [a1, a2, a3, b1, b2]) queue.add(j);
    assert.deepEqual(queue.leading(2, 10).map((j) => j.id), [a1, b2, a2, b1].map((j) => j.id));
    assert.deepEqual(queue.leading(5, 3).map((j) => j.id), [a1, b2, a2].map((j) => j.id));
    assert.deepEqual(queue.leading(5, 10).length, 5);
    assert.deepEqual(new JobQueue().leading(4, 64), []);
  });

  test("across users the fewest running goes next, ties to the earliest queued: a host of 4 slots is shared 2-1-1 then evenly", () => {
    const queue = new JobQueue();
    const load = new RunningLoad();
    load.hold({ owner: "alice", memoryBytes: 0, cpus: 0 });
    load.hold({ owner: "alice", memoryBytes: 0, cpus: 0 });
    // Alice queued first and most, but runs 2 already.
    for (let i = 0; i < 5; i++) queue.add(job("alice", { maxRunning: 10 }));
    for (let i = 0; i < 5; i++) queue.add(job("bob", { maxRunning: 10 }));
    for (let i = 0; i < 5; i++) queue.add(job("carol", { maxRunning: 10 }));
    const admitted = drain(queue, load, caps({ maxRunning: 6 }));
    assert.deepEqual(admitted.map((id) => id.split("-")[0]), ["bob", "carol", "bob", "carol"]);
    assert.deepEqual(Object.fromEntries(load.owners()), { alice: 2, bob: 2, carol: 2 });
    assert.equal(blocked(queue.heads()[0] as QueueEntry, load, caps({ maxRunning: 6 }))?.reason, "host: 6 jobs running (--max-running)");
  });

  test("weights: the fewest running relative to weight goes next; shares follow the weights as jobs end and start", () => {
    const c = caps({ maxRunning: 8, weights: { alice: 2, bob: 1 } });
    const queue = new JobQueue();
    const load = new RunningLoad();
    const releases = new Map<string, () => void>();
    // Carol, not named, weighs 1. Each queues more than the host runs.
    for (const owner of ["carol", "bob", "alice"]) for (let i = 0; i < 20; i++) queue.add(job(owner, { maxRunning: 100 }));
    const admit = (): string[] => {
      const admitted: string[] = [];
      for (let next = nextAdmission(queue.heads(), load, c, 0); next !== undefined; next = nextAdmission(queue.heads(), load, c, 0)) {
        queue.remove(next.id);
        releases.set(next.id, load.hold(next));
        admitted.push(next.id.split("-")[0] as string);
      }
      return admitted;
    };
    // All at 0 running: a tie, the earliest queued (carol) first; then alice, whose 1 running is half a share.
    assert.deepEqual(admit(), ["carol", "bob", "alice", "alice", "carol", "bob", "alice", "alice"]);
    assert.deepEqual(Object.fromEntries(load.owners()), { alice: 4, bob: 2, carol: 2 });
    // As jobs end, each freed slot goes back to whoever is furthest below its share: the shares stay 4-2-2.
    for (let round = 0; round < 12; round++) {
      const [id, release] = [...releases][round % releases.size] as [string, () => void];
      release();
      releases.delete(id);
      assert.deepEqual(admit(), [id.split("-")[0]], `round ${String(round)}`);
      assert.deepEqual(Object.fromEntries(load.owners()), { alice: 4, bob: 2, carol: 2 });
    }
  });

  test("weights: with equal running per unit of weight, the earliest queued goes first", () => {
    const c = caps({ weights: { alice: 3 } });
    const load = new RunningLoad();
    for (let i = 0; i < 3; i++) load.hold({ owner: "alice", memoryBytes: 0, cpus: 0 });
    load.hold({ owner: "bob", memoryBytes: 0, cpus: 0 });
    const a = job("alice", { maxRunning: 10 });
    const b = job("bob", { maxRunning: 10 });
    assert.equal(nextAdmission([b, a], load, c, 0), a, "3 / 3 = 1 / 1: alice queued first");
    load.hold({ owner: "alice", memoryBytes: 0, cpus: 0 });
    assert.equal(nextAdmission([a, b], load, c, 0), b, "4 / 3 > 1 / 1");
    assert.equal(nextAdmission([a, b], load, caps(), 0), b, "without weights, the fewest running");
  });

  test("the running load per owner: jobs and reservations held and given back, each release once", () => {
    const load = new RunningLoad();
    const a1 = load.hold({ owner: "alice", memoryBytes: 2 * gib, cpus: 0.5 });
    const a2 = load.hold({ owner: "alice", memoryBytes: 1 * gib, cpus: 0 });
    load.hold({ owner: "bob", memoryBytes: 0, cpus: 0.25 });
    assert.deepEqual(load.loadOf("alice"), { running: 2, memoryBytes: 3 * gib, cpus: 0.5 });
    assert.deepEqual(load.loadOf("bob"), { running: 1, memoryBytes: 0, cpus: 0.25 });
    assert.deepEqual(load.loadOf("carol"), { running: 0, memoryBytes: 0, cpus: 0 });
    a1();
    a1();
    assert.deepEqual(load.loadOf("alice"), { running: 1, memoryBytes: 1 * gib, cpus: 0 });
    a2();
    assert.deepEqual([load.loadOf("alice"), Object.fromEntries(load.owners())], [{ running: 0, memoryBytes: 0, cpus: 0 }, { bob: 1 }]);
    assert.deepEqual([load.total, load.memoryBytes, load.cpus], [1, 0, 0.25]);
  });

  test("a user at their own limit never holds up others, and says why", () => {
    const queue = new JobQueue();
    const load = new RunningLoad();
    load.hold({ owner: "alice", memoryBytes: 0, cpus: 0 });
    const a = job("alice", { maxRunning: 1 });
    const b = job("bob", { maxRunning: 1 });
    queue.add(a);
    queue.add(b);
    assert.deepEqual(drain(queue, load, caps()), [b.id]);
    assert.equal(blocked(a, load, caps())?.reason, "slot: alice has 1 running (--max-running-per-user)");
  });

  test("memory and CPU: a job that does not fit waits while smaller ones of others start; jobs that declare none reserve none", () => {
    const queue = new JobQueue();
    const load = new RunningLoad();
    load.hold({ owner: "bob", memoryBytes: 12 * gib, cpus: 1.5 });
    const big = job("alice", { memoryBytes: 8 * gib });
    const small = job("carol", { memoryBytes: 2 * gib });
    const greedy = job("dave", { cpus: 1 });
    const free = job("erin");
    for (const j of [big, small, greedy, free]) queue.add(j);
    assert.deepEqual(drain(queue, load, caps()).sort(), [small.id, free.id].sort());
    assert.equal(blocked(big, load, caps())?.reason, "memory: needs 8 GiB, 2 GiB of 16 GiB free (--memory-capacity)");
    assert.equal(blocked(greedy, load, caps())?.reason, "cpu: needs 1 CPUs, 0.5 of 2 free (--cpu-capacity)");
  });

  test("starvation bound: past it, jobs that would take what a starving job waits for are held back; others are not", () => {
    const c = caps({ starvationMs: 1000 });
    const queue = new JobQueue();
    const load = new RunningLoad();
    const releaseRunning = load.hold({ owner: "bob", memoryBytes: 10 * gib, cpus: 0 });
    const big = job("alice", { memoryBytes: 8 * gib, queuedAt: 0 });
    queue.add(big);
    // Before the bound a stream of small memory jobs keeps taking what frees up.
    queue.add(job("bob", { memoryBytes: 4 * gib, queuedAt: 500 }));
    assert.equal(drain(queue, load, c, 999).length, 1);
    queue.add(job("bob", { memoryBytes: 1 * gib, queuedAt: 1500 }));
    const noMemory = job("carol", { queuedAt: 1500 });
    queue.add(noMemory);
    // After it, the small memory job waits; one reserving no memory does not delay the big one and starts.
    assert.deepEqual(drain(queue, load, c, 2000), [noMemory.id]);
    releaseRunning();
    const after = drain(queue, load, c, 2000);
    assert.equal(after[0], big.id, "the big job first once memory is free");
    assert.equal(after.length, 2, "then the small one, which fits beside it");
  });
});

describe("dependency evaluation", () => {
  const jobs = new Map<string, DependencyJob>([
    ["ok", { id: "ok", state: "exited", exitCode: 0 }],
    ["three", { id: "three", state: "exited", exitCode: 3 }],
    ["killed", { id: "killed", state: "exited", signal: "SIGKILL" }],
    ["cancelled", { id: "cancelled", state: "stopped", stopReason: "cancelled" }],
    ["timeout", { id: "timeout", state: "stopped", stopReason: "timeout" }],
    ["failed", { id: "failed", state: "failed" }],
    ["running", { id: "running", state: "running" }],
    ["queued", { id: "queued", state: "queued" }],
  ]);
  const lookup = (id: string): DependencyJob | undefined => jobs.get(id);
  const on = (id: string, condition: Condition): Dependency => ({ id, condition });

  test("each condition against each end", () => {
    const met = (id: string, condition: Condition) => "met" in evaluate([on(id, condition)], lookup);
    assert.deepEqual(["ok", "three", "killed", "cancelled", "timeout", "failed"].map((id) => met(id, "succeeded")), [true, false, false, false, false, false]);
    assert.deepEqual(["ok", "three", "killed", "cancelled", "timeout", "failed"].map((id) => met(id, "failed")), [false, true, true, true, true, true]);
    assert.deepEqual(["ok", "three", "killed", "cancelled", "timeout", "failed"].map((id) => met(id, "ended")), [true, true, true, true, true, true]);
  });

  test("open while a dependency is queued or running; a failure names the dependency, how it ended and what was required", () => {
    assert.deepEqual(evaluate([on("ok", "succeeded"), on("running", "ended"), on("queued", "ended")], lookup), { waitingFor: on("running", "ended") });
    assert.deepEqual(evaluate([on("running", "ended"), on("three", "succeeded")], lookup), { failed: "dependency three exited 3 (required: succeeded)" });
    assert.deepEqual(evaluate([on("ok", "failed")], lookup), { failed: "dependency ok exited 0 (required: failed)" });
    assert.deepEqual(evaluate([on("killed", "succeeded")], lookup), { failed: "dependency killed was killed by SIGKILL (required: succeeded)" });
    assert.deepEqual(evaluate([on("cancelled", "succeeded")], lookup), { failed: "dependency cancelled was cancelled before it started (required: succeeded)" });
    assert.deepEqual(evaluate([on("timeout", "succeeded")], lookup), { failed: "dependency timeout was stopped (timeout) (required: succeeded)" });
    assert.deepEqual(evaluate([on("failed", "succeeded")], lookup), { failed: "dependency failed failed to start (required: succeeded)" });
    assert.deepEqual(evaluate([on("gone", "ended")], lookup), { failed: "dependency gone no longer exists (required: ended)" });
    assert.deepEqual(evaluate([], lookup), { met: true });
  });
});
