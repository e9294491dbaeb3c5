import assert from "node:assert/strict";
import { test } from "node:test";
import { BenchError } from "./error.ts";
import { median, summarize } from "./stats.ts";

test("summarize takes nearest-rank percentiles of unsorted samples", () => {
  const samples = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 .. 1
  const s = summarize(samples, "x");
  assert.deepEqual({ n: s.n, min: s.min, p50: s.p50, p99: s.p99, max: s.max, mean: s.mean }, { n: 100, min: 1, p50: 50, p99: 99, max: 100, mean: 50.5 });
  assert.equal(summarize([7], "one").p99, 7);
  assert.equal(median([3, 1, 2], "three"), 2);
});

test("summarize refuses an empty set, naming it", () => {
  assert.throws(() => summarize([], "fan-out latency"), (error: unknown) => error instanceof BenchError && error.code === "measurement" && /fan-out latency/.test(error.message));
});
