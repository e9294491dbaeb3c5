// Unit: which finished jobs retention removes, and in which order (per user first, then the largest user).
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Retained, Retention, type RetentionBounds } from "./retention.ts";

interface Job extends Retained {
  name: string;
}

const roomy: RetentionBounds = {
  retainMs: 1_000_000,
  outputBudgetBytes: 1000,
  outputBudgetPerUserBytes: 1000,
  maxRecordsPerUser: 100,
  maxRecordBytesPerUser: 100_000,
};

/** A retention with `bounds`, and the names of the jobs it removed, in order, with why. */
function retention(bounds: Partial<RetentionBounds>): { kept: Retention<Job>; removed: string[]; why: string[] } {
  const removed: string[] = [];
  const why: string[] = [];
  const kept = new Retention<Job>({ ...roomy, ...bounds }, (record, reason) => {
    removed.push(record.name);
    why.push(reason);
    return Promise.resolve();
  });
  return { kept, removed, why };
}

let clock = 0;
const job = (name: string, owner: string, outputDisk: number, storedBytes = 600): Job => ({ name, owner, outputDisk, storedBytes, endedAt: new Date(++clock) });

test("one user over the per-user output budget loses its own oldest jobs, never another user's", async () => {
  const { kept, removed, why } = retention({ outputBudgetPerUserBytes: 300, outputBudgetBytes: 10_000 });
  kept.add([job("b1", "bob", 100), job("a1", "alice", 100), job("b2", "bob", 100), job("a2", "alice", 100)]);
  kept.add([job("a3", "alice", 250)]);
  await kept.sweep(clock);
  assert.deepEqual(removed, ["a1", "a2"], "alice's oldest until she is within 300 bytes; bob's jobs are older but stay");
  assert.match(why[0] ?? "", /^its owner's finished jobs' output \(450 bytes on disk\) exceeds the per-user budget of 300 bytes; it is the owner's oldest$/);
  kept.close();
});

test("over the host-wide budget, the largest user's oldest go first, then the next largest's", async () => {
  const { kept, removed, why } = retention({ outputBudgetBytes: 500, outputBudgetPerUserBytes: 500 });
  kept.add([job("c1", "carol", 50), job("b1", "bob", 200), job("a1", "alice", 100), job("a2", "alice", 150), job("b2", "bob", 100)]);
  await kept.sweep(clock);
  assert.deepEqual(removed, ["b1"], "600 > 500: bob (300) is the largest; alice's and carol's older jobs stay");
  assert.match(why[0] ?? "", /^finished jobs' output \(600 bytes on disk\) exceeds the budget of 500 bytes; it is the oldest job of the user with the most output$/);
  kept.add([job("c2", "carol", 300)]);
  await kept.sweep(clock);
  // 700: carol (350) is the largest: her oldest goes; at 650 she still is (300 against alice's 250): her next.
  assert.deepEqual(removed, ["b1", "c1", "c2"]);
  kept.close();
});

test("a user's records are bounded in number and in bytes, oldest first, whatever their output", async () => {
  const { kept, removed, why } = retention({ maxRecordsPerUser: 2, maxRecordBytesPerUser: 100_000 });
  kept.add([job("a1", "alice", 0), job("b1", "bob", 0), job("a2", "alice", 0), job("a3", "alice", 0)]);
  await kept.sweep(clock);
  assert.deepEqual(removed, ["a1"]);
  assert.match(why[0] ?? "", /^its owner has more than 2 finished jobs, the per-user limit; it is the owner's oldest$/);
  kept.add([job("b2", "bob", 0, 60_000), job("b3", "bob", 0, 60_000)]);
  await kept.sweep(clock);
  assert.deepEqual(removed, ["a1", "b1", "b2"], "bob: three jobs, then 120600 bytes of records: his two oldest go");
  assert.match(why[2] ?? "", /^its owner's finished job records \(120000 bytes\) exceed the per-user limit of 100000 bytes/);
  kept.close();
});

test("age comes first; a forgotten job no longer counts; a job alone over a budget goes itself", async () => {
  const { kept, removed } = retention({ retainMs: 10, outputBudgetPerUserBytes: 500 });
  const old = job("old", "alice", 0);
  clock += 100;
  const deleted = job("deleted", "bob", 400);
  kept.add([old, deleted, job("fresh", "bob", 400)]);
  kept.forget(deleted);
  await kept.sweep(clock);
  assert.deepEqual(removed, ["old"], "800 bytes were over bob's 500, but one of them was forgotten");
  kept.add([job("huge", "carol", 600)]);
  await kept.sweep(clock);
  assert.deepEqual(removed, ["old", "huge"]);
  kept.close();
});
