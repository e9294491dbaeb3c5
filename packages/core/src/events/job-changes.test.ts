// The change log alone: numbering, the window, resuming and resync.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Job, JobChange } from "../types.ts";
import { changeBytes, JobChanges } from "./job-changes.ts";

const job = (id: string, args: string[] = []) => ({ id, owner: "alice", program: "/bin/true", cwd: "/home/alice", args }) as Job;

test("changes are numbered in order and handed to listeners at once; a resume gets what it missed from the window, else resync", () => {
  const changes = new JobChanges(4);
  const seen: JobChange[] = [];
  const { position, missed, stop } = changes.subscribe(undefined, (c) => seen.push(c));
  assert.deepEqual(position, { epoch: changes.epoch, sequence: 0, resync: false });
  assert.deepEqual(missed, []);
  for (const id of ["a", "b", "c", "d", "e", "f"]) changes.publish("created", job(id));
  assert.deepEqual(seen.map((c) => [c.sequence, c.job.id]), [[1, "a"], [2, "b"], [3, "c"], [4, "d"], [5, "e"], [6, "f"]]);
  stop();
  changes.publish("ended", job("a"));
  assert.equal(seen.length, 6, "a stopped listener hears nothing more");
  const resumed = changes.subscribe({ epoch: changes.epoch, sequence: 4 }, () => undefined);
  assert.deepEqual(resumed.missed.map((c) => c.sequence), [5, 6, 7]);
  assert.deepEqual(resumed.position, { epoch: changes.epoch, sequence: 4, resync: false });
  assert.deepEqual(changes.subscribe({ epoch: changes.epoch, sequence: 3 }, () => undefined).missed.map((c) => c.sequence), [4, 5, 6, 7], "the oldest kept");
  assert.deepEqual(changes.subscribe({ epoch: changes.epoch, sequence: 2 }, () => undefined).position, { epoch: changes.epoch, sequence: 7, resync: true, reason: "changes after sequence 2 are no longer kept" });
  assert.equal(changes.subscribe({ epoch: "other", sequence: 7 }, () => undefined).position.reason, "the server restarted since (another epoch)");
  assert.equal(changes.subscribe({ epoch: changes.epoch, sequence: 9 }, () => undefined).position.reason, "sequence 9 was never given");
  assert.deepEqual(changes.subscribe({ epoch: changes.epoch, sequence: 7 }, () => undefined).missed, []);
});

test("the window is bounded by bytes too: big changes push the oldest out (the latest is always kept), and a resume past them resyncs", () => {
  const small = changeBytes(job("s0"));
  const big = changeBytes(job("bb", ["x".repeat(4000)]));
  assert.ok(big > 8000 + small, `a change holding 4000 characters of arguments counts their bytes (${String(big)})`);
  const changes = new JobChanges(100, 10 * small);
  for (let i = 0; i < 8; i++) changes.publish("created", job(`s${String(i)}`));
  assert.deepEqual(changes.kept, { changes: 8, bytes: 8 * small });
  changes.publish("created", job("bb", ["x".repeat(4000)]));
  assert.deepEqual(changes.kept, { changes: 1, bytes: big }, "the big one alone is kept, over the bound");
  assert.equal(changes.subscribe({ epoch: changes.epoch, sequence: 7 }, () => undefined).position.reason, "changes after sequence 7 are no longer kept");
  assert.deepEqual(changes.subscribe({ epoch: changes.epoch, sequence: 8 }, () => undefined).missed.map((c) => c.job.id), ["bb"]);
  changes.publish("ended", job("s0"));
  assert.deepEqual(changes.kept, { changes: 1, bytes: small }, "the next pushes the big one out");
  for (let i = 0; i < 200; i++) changes.publish("created", job(`u${String(i % 10)}`));
  assert.deepEqual(changes.kept, { changes: 10, bytes: 10 * small }, "at most the bytes' worth of small changes");
});
