// Failed store writes are logged once, retried until they succeed, and a newer write of the same job wins.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { LogEvent } from "../types.ts";
import { WriteRetry } from "./write-retry.ts";

test("a failing write is logged once and retried with backoff until it succeeds; newer writes replace it", async () => {
  const logs: LogEvent[] = [];
  const retry = new WriteRetry("/state.db", (e) => logs.push(e));
  let diskFull = true;
  const written: string[] = [];
  const write = (what: string) => () => {
    if (diskFull) throw Object.assign(new Error("database or disk is full"), { errcode: 13 });
    written.push(what);
  };
  retry.run("job-a", write("a1"));
  retry.run("job-b", write("b1"));
  assert.equal(retry.pending, 2);
  retry.run("job-a", write("a2")); // the newer row of job-a replaces the pending one
  assert.equal(retry.pending, 2);
  assert.equal(logs.filter((e) => e.level === "error").length, 2, "one line per job, not per attempt");
  assert.match(logs[0]?.message ?? "", /cannot write a job record to \/state\.db; retrying/);
  await sleep(600); // two retries (250 ms, then 500 ms) fail meanwhile
  assert.equal(logs.filter((e) => e.level === "error").length, 2);
  diskFull = false;
  for (let waited = 0; retry.pending > 0 && waited < 5000; waited += 50) await sleep(50);
  assert.equal(retry.pending, 0);
  assert.deepEqual(written.sort(), ["a2", "b1"]);
  assert.ok(logs.some((e) => e.level === "info" && e.jobId === "job-a" && /written to \/state\.db after \d+ attempts/.test(e.message)));
});

test("flush tries pending writes once more and says how many are still lost; forget drops one", () => {
  const retry = new WriteRetry("s", () => undefined);
  let fail = true;
  retry.run("x", () => {
    if (fail) throw new Error("EIO");
  });
  retry.run("y", () => {
    throw new Error("EIO");
  });
  retry.run("z", () => {
    throw new Error("EIO");
  });
  retry.forget("z");
  fail = false;
  assert.equal(retry.flush(), 1, "y still fails; x succeeded; z was forgotten");
});
