#!/usr/bin/env node
// Fan-out workload: prints COUNT lines, one every INTERVAL ms, each carrying the wall-clock time
// it was written at, so a follower can compute write-to-receive latency: "<seq> <epoch ms with fraction>\n".
// Usage: ticker COUNT INTERVAL_MS
import { writeSync } from "node:fs";

const count = Number(process.argv[2]);
const interval = Number(process.argv[3]);
if (!Number.isSafeInteger(count) || count < 1 || !Number.isFinite(interval) || interval < 0) {
  process.stderr.write("usage: ticker COUNT INTERVAL_MS\n");
  process.exit(2);
}
let seq = 0;
let due = performance.now();
function tick(): void {
  seq += 1;
  // One write(2) per line, synchronous: the line is in the file when the timestamp is at most a syscall old.
  writeSync(1, `${String(seq).padStart(6, "0")} ${(performance.timeOrigin + performance.now()).toFixed(3)}\n`);
  // Keep the period without bursts: when a timer fired late, the schedule moves on instead of catching up.
  const now = performance.now();
  due = due + interval < now ? now + interval : due + interval;
  if (seq < count) setTimeout(tick, due - now);
}
tick();
