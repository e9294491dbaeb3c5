#!/usr/bin/env node
// Fan-out workload: writes a line carrying the wall-clock time it was written at, "<seq> <epoch ms with fraction>\n",
// so a follower can compute write-to-receive latency. Line 0 is written at once; with GO_FILE, the next lines wait
// until that file exists (so followers can attach to a quiet job), then one every INTERVAL ms until killed.
// Usage: ticker INTERVAL_MS [GO_FILE]
import { existsSync, writeSync } from "node:fs";

const interval = Number(process.argv[2]);
const goFile = process.argv[3];
if (!Number.isFinite(interval) || interval <= 0) {
  process.stderr.write("usage: ticker INTERVAL_MS [GO_FILE]\n");
  process.exit(2);
}
let seq = 0;
// One write(2) per line, synchronous: the line is in the file when the timestamp is at most a syscall old.
const line = (): void => {
  writeSync(1, `${String(seq++).padStart(6, "0")} ${(performance.timeOrigin + performance.now()).toFixed(3)}\n`);
};
let due = 0;
function tick(): void {
  line();
  // Keep the period without bursts: when a timer fired late, the schedule moves on instead of catching up.
  const now = performance.now();
  due = due + interval < now ? now + interval : due + interval;
  setTimeout(tick, due - now);
}
line();
const go = setInterval(() => {
  if (goFile !== undefined && !existsSync(goFile)) return;
  clearInterval(go);
  due = performance.now();
  tick();
}, 5);
