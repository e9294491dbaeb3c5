import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { IsolationSchema, JobSchema, JobState, StopReason } from "@jobexec/proto";
import { formatList } from "./format-list.ts";
import { formatStatus } from "./format-status.ts";

const t0 = new Date("2026-11-23T18:00:00Z");
const later = (ms: number): Date => new Date(t0.getTime() + ms);
const id = "0b6c1b2e-4f6d-4a3e-9a57-3f0f3f3c2d10";

test("status of a running job: live usage next to limits", () => {
  const job = create(JobSchema, {
    id, owner: "alice", account: "alice", uid: 61184, gid: 61184, program: "slow", args: ["10"], workingDirectory: "/tmp", state: JobState.RUNNING, pid: 77,
    createTime: timestampFromDate(t0), startTime: timestampFromDate(t0), cgroup: "/sys/fs/cgroup/jobexec/j",
    limits: { cpu: 0.5, memoryMaxBytes: 256_000_000n, pidsMax: 10n, io: [{ device: "/dev/vda", resolvedDevice: "253:0", writeBps: 10_000_000n }] },
    usage: { cpuUsageUsec: 1_500_000n, cpuUserUsec: 1_000_000n, cpuSystemUsec: 500_000n, memoryCurrentBytes: 1_048_576n, memoryPeakBytes: 2_097_152n, pidsCurrent: 2n },
    output: { stdoutBytes: 2048n },
  });
  assert.equal(formatStatus(job, later(12_000)), [
    `● ${id} - running`,
    "      State: running since 2026-11-23 18:00:00 UTC; 12s ago",
    "    Command: slow 10",
    "      Owner: alice",
    "       User: alice (uid 61184)",
    "    Created: 2026-11-23 18:00:00 UTC",
    "  Directory: /tmp",
    "        PID: 77",
    "        CPU: 1.5s (user 1s, system 500ms); limit 0.5 CPU",
    "     Memory: 1 MiB (peak 2 MiB); limit 256 MB",
    "      Tasks: 2; limit 10",
    "         IO: read 0 B, written 0 B; limit /dev/vda (253:0): write 10 MB/s",
    "     Output: stdout 2 KiB, stderr 0 B (separate)",
    "     Cgroup: /sys/fs/cgroup/jobexec/j",
    "  Isolation: none",
    "",
  ].join("\n"));
});

test("status names the isolation a job got", () => {
  const job = create(JobSchema, {
    id, owner: "alice", program: "true", state: JobState.EXITED, createTime: timestampFromDate(t0),
    isolation: { privateNetwork: true, privateTmp: true, privateTmpBytes: 8n * 1024n * 1024n, readOnlySystem: true },
  });
  assert.match(formatStatus(job, later(1000)), /\n {2}Isolation: network none, private \/tmp \(8 MiB\), read-only system\n$/);
  job.isolation = create(IsolationSchema, { readOnlySystem: true });
  assert.match(formatStatus(job, later(1000)), /\n {2}Isolation: read-only system\n$/);
});

test("status names a mapped account's gid when it is not the uid's number, and no account for a job that never ran", () => {
  const mapped = create(JobSchema, { id, owner: "ci-7", account: "builder", uid: 1001, gid: 1500, state: JobState.EXITED, exitCode: 0 });
  assert.match(formatStatus(mapped), /\n +Owner: ci-7\n +User: builder \(uid 1001, gid 1500\)\n/);
  const failed = create(JobSchema, { id, owner: "alice", state: JobState.FAILED, failureReason: "x" });
  assert.doesNotMatch(formatStatus(failed), /User:/);
});

test("status of stopped, OOM-killed and failed jobs says how they ended", () => {
  const stopped = create(JobSchema, { id, owner: "bob", program: "sleep", args: ["100"], state: JobState.STOPPED, signal: "SIGTERM", stoppedBy: "alice",
    startTime: timestampFromDate(t0), endTime: timestampFromDate(later(5000)), usage: { cpuUsageUsec: 195_606n, unavailable: ["cpu_throttling", "memory"] } });
  const text = formatStatus(stopped);
  assert.match(text, /State: stopped by alice \(killed by SIGTERM\) at 2026-11-23 18:00:05 UTC; ran 5s\n/);
  assert.match(text, /Memory: not measured on this host\n/);
  assert.match(text, /CPU: 19\dms \(user /, "CPU time is measured without the cpu controller");
  assert.match(text, /Cgroup: none /);
  const oom = create(JobSchema, { id, state: JobState.EXITED, signal: "SIGKILL", oomKilled: true, endTime: timestampFromDate(t0) });
  assert.match(formatStatus(oom), /State: exited \(killed by SIGKILL, out of memory \(OOM kill\)\)/);
  const failed = create(JobSchema, { id, state: JobState.FAILED, failureReason: "not executable", createTime: timestampFromDate(t0) });
  assert.match(formatStatus(failed), /State: failed to start at 2026-11-23 18:00:00 UTC: not executable\n/);
  assert.doesNotMatch(formatStatus(failed), /CPU:/);
});

test("status of jobs stopped by their timeout or output limit, and of one that ended while the server was down", () => {
  const limited = create(JobSchema, { id, state: JobState.STOPPED, stopReason: StopReason.OUTPUT_LIMIT, signal: "SIGKILL", maxOutputBytes: 1073741824n,
    startTime: timestampFromDate(t0), endTime: timestampFromDate(later(3000)), output: { stdoutBytes: 1075000001n } });
  const text = formatStatus(limited);
  assert.match(text, /State: stopped \(killed: output limit exceeded \(1 GiB\)\) at 2026-11-23 18:00:03 UTC; ran 3s\n/);
  assert.match(text, /Output: stdout 1\.0 GiB, stderr 0 B \(separate\); limit 1 GiB\n/);
  const timedOut = create(JobSchema, { id, state: JobState.STOPPED, stopReason: StopReason.TIMEOUT, signal: "SIGTERM", timeout: { seconds: 600n },
    startTime: timestampFromDate(t0), endTime: timestampFromDate(later(600_100)) });
  assert.match(formatStatus(timedOut), /State: stopped \(timed out after 10m, killed by SIGTERM\) at 2026-11-23 18:10:00 UTC; ran 10m\n/);
  assert.match(formatStatus(timedOut), /Timeout: 10m\n/);
  const unknown = create(JobSchema, { id, state: JobState.EXITED, exitStatusUnknown: true, exitStatusUnknownReason: "the server restarted while the job ran",
    endTimeApproximate: true, startTime: timestampFromDate(t0), endTime: timestampFromDate(later(90_000)) });
  assert.match(formatStatus(unknown), /State: exited \(exit status unknown: the server restarted while the job ran\) at ~2026-11-23 18:01:30 UTC \(approximately: it ended while the server was down\); ran ~1m 30s\n/);
  assert.match(formatList([unknown], later(100_000)), /exited {2}exit status unknown: the server restarted while the job ran {2}/);
});

test("the list table aligns columns and cuts long commands", () => {
  const jobs = [
    create(JobSchema, { id, owner: "alice", program: "sh", args: ["-c", "x".repeat(100)], state: JobState.EXITED, exitCode: 0,
      createTime: timestampFromDate(t0), startTime: timestampFromDate(t0), endTime: timestampFromDate(later(1500)) }),
    create(JobSchema, { id: "1b6c1b2e-4f6d-4a3e-9a57-3f0f3f3c2d10", owner: "bo", program: "sleep", args: ["9"], state: JobState.RUNNING,
      createTime: timestampFromDate(t0), startTime: timestampFromDate(t0) }),
  ];
  const lines = formatList(jobs, later(65_000)).split("\n");
  assert.equal(lines.length, 4);
  assert.equal(lines[3], "");
  assert.match(lines[0] ?? "", /^ID {36}OWNER {2}STATE {4}RESULT {7}CREATED {18}RAN {4}COMMAND$/);
  assert.match(lines[1] ?? "", /^0b6c1b2e-4f6d-4a3e-9a57-3f0f3f3c2d10 {2}alice {2}exited {3}exit code 0 {2}2026-11-23 18:00:00 UTC {2}1\.5s {3}sh -c x+…$/);
  assert.equal([...(lines[1]?.split("  ").at(-1)?.trim() ?? "")].length, 60);
  assert.match(lines[2] ?? "", /^1b6c1b2e-\S+ {2}bo {5}running {15}2026-11-23 18:00:00 UTC {2}1m 5s {2}sleep 9$/);
});
