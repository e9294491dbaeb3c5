// The scheduler alone: held jobs placed, released and failed by their dependencies and start times; no process.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { QueueEntry } from "./admission.ts";
import type { DependencyJob } from "./dependencies.ts";
import { checkQueueOptions, Scheduler } from "./scheduler.ts";

const entry = (id: string, owner = "alice", seq = 1): QueueEntry => ({ id, owner, seq, priority: 0, maxRunning: 4, maxRunningName: "quota", memoryBytes: 0, cpus: 0, queuedAt: 0 });

test("held jobs: placed by their dependencies and start time, released or failed as those end, positions after the owner's queued ones", () => {
  const jobs = new Map<string, DependencyJob>([["a", { id: "a", state: "running" }], ["b", { id: "b", state: "running" }]]);
  const scheduler = new Scheduler(checkQueueOptions({}, { cpus: 2, memoryBytes: 2 ** 30 }), (id) => jobs.get(id));
  assert.equal(scheduler.place(entry("ready", "alice", 1), [], 0, 1000), undefined);
  assert.equal(scheduler.place(entry("onA", "alice", 2), [{ id: "a", condition: "succeeded" }], 0, 1000), undefined);
  assert.equal(scheduler.place(entry("onB", "bob", 3), [{ id: "b", condition: "failed" }], 0, 1000), undefined);
  assert.equal(scheduler.place(entry("later", "alice", 4), [], 5000, 1000), undefined);
  assert.deepEqual([scheduler.queue.size, scheduler.holds.size], [1, 3]);
  assert.deepEqual(scheduler.status("onA", 1000), { position: 2, reason: "dependency a (required: succeeded)" });
  assert.deepEqual(scheduler.status("later", 1000), { position: 3, reason: `not before ${new Date(5000).toISOString()}` });
  assert.equal(scheduler.holds.waiterFor("a"), "onA");

  jobs.set("a", { id: "a", state: "exited", exitCode: 0 });
  const afterA = scheduler.dependentsEnded("a", 1000);
  assert.deepEqual([afterA.released.map((h) => h.entry.id), afterA.failed], [["onA"], []]);
  assert.equal(scheduler.holds.waiterFor("a"), undefined);
  jobs.set("b", { id: "b", state: "exited", exitCode: 0 });
  const afterB = scheduler.dependentsEnded("b", 1000);
  assert.deepEqual(afterB.failed.map((f) => [f.held.entry.id, f.reason]), [["onB", "dependency b exited 0 (required: failed)"]]);
  assert.equal(scheduler.queue.has("onB"), false, "a failed job is queued nowhere");
  assert.deepEqual(scheduler.releaseDue(4999), { released: [], failed: [], next: 5000 });
  assert.deepEqual(scheduler.releaseDue(5000).released.map((h) => h.entry.id), ["later"]);
  assert.deepEqual([scheduler.queue.size, scheduler.holds.size], [3, 0]);
  // Failed at once when a dependency already ended otherwise; cancel from either place.
  assert.equal(scheduler.place(entry("never"), [{ id: "b", condition: "failed" }], 0, 1000), "dependency b exited 0 (required: failed)");
  assert.deepEqual(scheduler.cancel("ready"), {});
  assert.equal(scheduler.place(entry("held"), [], 9000, 1000), undefined);
  assert.equal(scheduler.cancel("held")?.held?.entry.id, "held");
  assert.equal(scheduler.cancel("nothing"), undefined);
});

test("queue weights: whole numbers from 1 to 1000, a bad one named with the setting behind it", () => {
  const host = { cpus: 2, memoryBytes: 2 ** 30 };
  assert.deepEqual(checkQueueOptions({ weights: { alice: 2, bob: 1000 } }, host).caps.weights, new Map([["alice", 2], ["bob", 1000]]));
  assert.equal(checkQueueOptions({}, host).caps.weights, undefined);
  for (const weight of [0, 1.5, 1001, Number.NaN]) {
    assert.throws(() => checkQueueOptions({ weights: { alice: weight }, names: { weights: "--queue-weight" } }, host), {
      code: "invalid_argument",
      message: `--queue-weight: the weight of "alice" must be a whole number from 1 to 1000`,
    });
  }
});
