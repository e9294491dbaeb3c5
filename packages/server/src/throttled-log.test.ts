import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createLogger } from "./log.ts";
import { ThrottledLog } from "./throttled-log.ts";

test("a throttled log writes the first event at once and the rest of each interval as one line with their count", async () => {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger("debug", { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  const refused = new ThrottledLog(log, "warn", "refused", 100);
  for (let i = 0; i < 50; i++) refused.note({ n: i });
  assert.deepEqual(lines.map((l) => [l.msg, l.count, l.n]), [["refused", 1, 0]]);
  await sleep(150);
  assert.deepEqual(lines.map((l) => [l.count, l.n]), [[1, 0], [49, 49]]);
  // A quiet interval ends the throttling: the next event is written at once again.
  await sleep(250);
  refused.note({ n: 50 });
  assert.deepEqual(lines.map((l) => [l.count, l.n]), [[1, 0], [49, 49], [1, 50]]);
});
