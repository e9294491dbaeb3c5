import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { GetQueueSummaryResponseSchema, JobSchema, JobState } from "@jobexec/proto";
import { queueJson } from "./commands/queue.ts";
import { jobJson } from "./job-json.ts";

// The documented example in JSON.md must have exactly the keys and value types jobJson produces.
const doc = readFileSync(new URL("../JSON.md", import.meta.url), "utf8");

/** The JSON type of every leaf path, with null allowed to stand for any type (an absent value). */
function shape(value: unknown, path = "", into = new Map<string, string>()): Map<string, string> {
  if (Array.isArray(value)) {
    into.set(path, "array");
    for (const item of value) shape(item, `${path}[]`, into);
  } else if (value !== null && typeof value === "object") {
    into.set(path, "object");
    for (const [key, inner] of Object.entries(value)) shape(inner, `${path}.${key}`, into);
  } else if (value !== null || !into.has(path)) {
    into.set(path, value === null ? "null" : typeof value);
  }
  return into;
}

function sameShape(documented: Map<string, string>, actual: Map<string, string>): void {
  assert.deepEqual([...actual.keys()].sort(), [...documented.keys()].sort());
  for (const [path, type] of actual) {
    const expected = documented.get(path);
    if (type !== "null" && expected !== "null") assert.equal(type, expected, path);
  }
}

test("the Job example in JSON.md has the shape of jobJson's output", () => {
  const block = /## Job\n\n```json\n([\s\S]+?)\n```/.exec(doc)?.[1];
  assert.ok(block, "JSON.md has a Job example");
  const t = timestampFromDate(new Date());
  const job = create(JobSchema, {
    id: "x", account: "a", uid: 1, gid: 1, state: JobState.STOPPED, pid: 1, exitCode: 0, signal: "SIGTERM", failureReason: "r", stoppedBy: "s", cgroup: "/c",
    createTime: t, startTime: t, endTime: t,
    limits: { cpu: 1, cpuWeight: 1, memoryMaxBytes: 1n, pidsMax: 1n, io: [{ device: "d", resolvedDevice: "1:0", readBps: 1n, writeBps: 1n, readIops: 1n, writeIops: 1n }] },
    args: ["a"],
    // Every usage figure present, as on a host with every controller and PSI (the example shows one).
    usage: {
      cpuPeriods: 1n, cpuThrottledPeriods: 1n, memorySwapPeakBytes: 1n, memoryEvents: { oom: 1n }, ioReadOps: 1n, ioWriteOps: 1n, pidsPeak: 1n,
      cpuPressure: { someTotalUsec: 1n, fullTotalUsec: 1n }, memoryPressure: { someTotalUsec: 1n, fullTotalUsec: 1n }, ioPressure: { someTotalUsec: 1n, fullTotalUsec: 1n },
    },
  });
  sameShape(shape(JSON.parse(block)), shape(jobJson(job)));
});

test("the Queue example in JSON.md has the shape of queueJson's output", () => {
  const block = /## Queue\n\n```json\n([\s\S]+?)\n```/.exec(doc)?.[1];
  assert.ok(block, "JSON.md has a Queue example");
  const summary = create(GetQueueSummaryResponseSchema, { owners: [{ owner: "alice", running: 1, weight: 2, nextReason: "r" }], host: { running: 1, maxRunning: 8 } });
  sameShape(shape(JSON.parse(block)), shape(queueJson(summary)));
});
