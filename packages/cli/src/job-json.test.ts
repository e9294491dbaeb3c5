import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { DependencyCondition, JobSchema, JobState, OutputMode, StopReason } from "@jobexec/proto";
import { exitStatus, outcome } from "./job-facts.ts";
import { jobJson } from "./job-json.ts";

const start = new Date("2026-11-23T18:00:00.000Z");
const end = new Date("2026-11-23T18:00:02.500Z");

test("a finished job's JSON: every key present, numbers as numbers, times as RFC 3339, absent values null", () => {
  const job = create(JobSchema, {
    id: "0b6c1b2e-4f6d-4a3e-9a57-3f0f3f3c2d10", owner: "alice", account: "alice", uid: 61184, gid: 61184, program: "sh", args: ["-c", "exit 3"], workingDirectory: "/",
    state: JobState.EXITED, pid: 42, exitCode: 3, createTime: timestampFromDate(start), startTime: timestampFromDate(start),
    endTime: timestampFromDate(end), outputMode: OutputMode.MERGED, cgroup: "/sys/fs/cgroup/jobexec/x",
    limits: { memoryMaxBytes: 268_435_456n, cpu: 0.5, io: [{ device: "/dev/vda1", resolvedDevice: "253:0", writeBps: 10_000_000n }] },
    usage: { cpuUsageUsec: 1500n, memoryPeakBytes: 4096n, unavailable: ["io"] },
    output: { stdoutBytes: 12n }, maxOutputBytes: 1073741824n, timeout: { seconds: 600n },
    isolation: { privateNetwork: true, privateTmp: true, privateTmpBytes: 67108864n, readOnlySystem: false },
  });
  assert.deepEqual(jobJson(job), {
    id: "0b6c1b2e-4f6d-4a3e-9a57-3f0f3f3c2d10", owner: "alice", account: "alice", uid: 61184, gid: 61184, state: "exited", program: "sh", args: ["-c", "exit 3"],
    commandLine: "sh -c 'exit 3'", workingDirectory: "/", pid: 42, exitCode: 3, signal: null, oomKilled: false,
    failureReason: null, stoppedBy: null, stopReason: null, exitStatusUnknown: false, exitStatusUnknownReason: null, outcome: "exit code 3",
    createTime: "2026-11-23T18:00:00.000Z", startTime: "2026-11-23T18:00:00.000Z",
    endTime: "2026-11-23T18:00:02.500Z", endTimeApproximate: false, durationMs: 2500, maxOutputBytes: 1073741824, timeoutMs: 600000,
    limits: { cpu: 0.5, cpuWeight: null, memoryMaxBytes: 268435456, pidsMax: null,
      io: [{ device: "/dev/vda1", resolvedDevice: "253:0", readBps: null, writeBps: 10000000, readIops: null, writeIops: null }] },
    usage: { cpuUsageUsec: 1500, cpuUserUsec: 0, cpuSystemUsec: 0, cpuThrottledUsec: 0, memoryCurrentBytes: 0, memoryPeakBytes: 4096,
      ioReadBytes: 0, ioWriteBytes: 0, pidsCurrent: 0, unavailable: ["io"],
      cpuPeriods: null, cpuThrottledPeriods: null, memorySwapPeakBytes: null, memoryEvents: null, ioReadOps: null, ioWriteOps: null, pidsPeak: null,
      pressure: { cpu: null, memory: null, io: null } },
    timeline: null,
    output: { mode: "merged", stdoutBytes: 12, stderrBytes: 0 },
    cgroup: "/sys/fs/cgroup/jobexec/x",
    isolation: { privateNetwork: true, privateTmp: true, privateTmpBytes: 67108864, readOnlySystem: false },
    queue: null,
    stopping: null,
  });
  assert.equal(exitStatus(job), 3);
});

test("a queued job: its place, what it waits for, and what was asked; no pid, no start", () => {
  const job = create(JobSchema, {
    id: "q",
    owner: "alice",
    state: JobState.QUEUED,
    createTime: timestampFromDate(start),
    queuePosition: 2,
    queueReason: "slot: alice has 64 running (--max-running-per-user)",
    priority: 5,
    startAfter: [{ id: "d", condition: DependencyCondition.ENDED }],
    notBefore: timestampFromDate(start),
  });
  const json = jobJson(job);
  assert.equal(json.state, "queued");
  assert.equal(json.pid, null);
  assert.equal(json.startTime, null);
  assert.equal(json.outcome, "#2 of alice's queued, waits for: slot: alice has 64 running (--max-running-per-user)");
  assert.deepEqual(json.queue, {
    position: 2,
    reason: "slot: alice has 64 running (--max-running-per-user)",
    priority: 5,
    after: [{ id: "d", condition: "any" }],
    notBefore: start.toISOString(),
  });
});

test("a job that never started: no pid, no times but creation, failure reason, exit status 126", () => {
  const job = create(JobSchema, { id: "x", state: JobState.FAILED, failureReason: "program not found", createTime: timestampFromDate(start) });
  const json = jobJson(job);
  assert.equal(json.state, "failed");
  assert.equal(json.pid, null);
  assert.deepEqual([json.account, json.uid, json.gid], [null, null, null]);
  assert.equal(json.startTime, null);
  assert.equal(json.durationMs, null);
  assert.equal(json.failureReason, "program not found");
  assert.equal(json.cgroup, null);
  assert.equal(exitStatus(job), 126);
  assert.equal(outcome(job), "failed to start: program not found");
});

test("killed jobs exit with 128 + the signal number; a running job's duration runs to now", () => {
  const killed = create(JobSchema, { state: JobState.STOPPED, signal: "SIGKILL", oomKilled: true });
  assert.equal(exitStatus(killed), 137);
  assert.equal(outcome(killed), "killed by SIGKILL, out of memory (OOM kill)");
  assert.equal(exitStatus(create(JobSchema, { state: JobState.STOPPED, signal: "SIGTERM" })), 143);
  const running = create(JobSchema, { state: JobState.RUNNING, startTime: timestampFromDate(start) });
  assert.equal(jobJson(running, end).durationMs, 2500);
  assert.equal(jobJson(running, end).endTime, null);
});

test("outcomes say plainly why a job ended: timeout, output limit, server shutdown, exit status unknown", () => {
  const timedOut = create(JobSchema, { state: JobState.STOPPED, stopReason: StopReason.TIMEOUT, signal: "SIGTERM", timeout: { seconds: 600n } });
  assert.equal(outcome(timedOut), "timed out after 10m, killed by SIGTERM");
  assert.equal(jobJson(timedOut).stopReason, "timeout");
  assert.equal(jobJson(timedOut).timeoutMs, 600_000);
  const limited = create(JobSchema, { state: JobState.STOPPED, stopReason: StopReason.OUTPUT_LIMIT, signal: "SIGKILL", maxOutputBytes: 1073741824n });
  assert.equal(outcome(limited), "killed: output limit exceeded (1 GiB)");
  assert.equal(jobJson(limited).outcome, "killed: output limit exceeded (1 GiB)");
  const shutdown = create(JobSchema, { state: JobState.STOPPED, stopReason: StopReason.SERVER_SHUTDOWN, signal: "SIGTERM" });
  assert.equal(outcome(shutdown), "server shutdown, killed by SIGTERM");
  const unknown = create(JobSchema, {
    state: JobState.EXITED, exitStatusUnknown: true, exitStatusUnknownReason: "the server restarted while the job ran", endTimeApproximate: true,
  });
  assert.equal(outcome(unknown), "exit status unknown: the server restarted while the job ran");
  const json = jobJson(unknown);
  assert.deepEqual([json.exitStatusUnknown, json.exitStatusUnknownReason, json.endTimeApproximate, json.exitCode], [true, "the server restarted while the job ran", true, null]);
  const stoppedAfterRestart = create(JobSchema, { state: JobState.STOPPED, stopReason: StopReason.REQUESTED, stoppedBy: "al", exitStatusUnknown: true, exitStatusUnknownReason: "r" });
  assert.equal(outcome(stoppedAfterRestart), "exit status unknown: r");
  assert.equal(jobJson(stoppedAfterRestart).stopReason, "requested");
});
