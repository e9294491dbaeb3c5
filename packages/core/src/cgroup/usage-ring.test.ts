import assert from "node:assert/strict";
import { test } from "node:test";
import { ringCapacity, UsageRing } from "./usage-ring.ts";

test("a few samples come back as they were, unknown figures absent", () => {
  const ring = new UsageRing(0, 1000);
  ring.push(1000, 0.5, 100);
  ring.push(2000, 1, NaN);
  ring.push(3000, NaN, 300);
  assert.deepEqual(ring.timeline(), { intervalMs: 1000, samples: [{ atMs: 1000, cpu: 0.5, memoryBytes: 100 }, { atMs: 2000, cpu: 1 }, { atMs: 3000, memoryBytes: 300 }] });
});

test("a run longer than the ring keeps its whole span in bounded memory: pairs merge, CPU averaged, memory the higher", () => {
  const ring = new UsageRing(0, 1000);
  const samples = 10 * ringCapacity;
  // First half busy (1 CPU) with 10 MiB, second half idle with a 50 MiB spike at 3/4.
  for (let i = 1; i <= samples; i++) ring.push(i * 1000, i <= samples / 2 ? 1 : 0, i === Math.round(samples * 0.75) ? 50 : 10);
  assert.ok(ring.length <= ringCapacity, String(ring.length));
  assert.ok(ring.bytes <= ringCapacity * 20, String(ring.bytes));
  const { samples: points } = ring.timeline(100);
  assert.ok(points.length <= 100 && points.length >= 50, String(points.length));
  assert.equal(points.at(-1)?.atMs, samples * 1000);
  // The total CPU time survives the merging (time-weighted averages).
  let cpuSeconds = 0;
  let start = 0;
  for (const p of points) {
    cpuSeconds += (p.cpu ?? 0) * (p.atMs - start) / 1000;
    start = p.atMs;
  }
  assert.ok(Math.abs(cpuSeconds - samples / 2) < 1e-3 * samples, String(cpuSeconds));
  assert.equal(Math.max(...points.map((p) => p.memoryBytes ?? 0)), 50);
  assert.equal(points[0]?.cpu, 1);
  assert.equal(points.at(-1)?.cpu, 0);
});
