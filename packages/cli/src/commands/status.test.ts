import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jobNode, slowPath } from "@jobexec/testing-slow";
import { jsonOf, runCli, spawnCli, startCliServer, startedId, type CliServer } from "../testing/cli-fixture.ts";

describe("jobexec status and stop", { timeout: 300_000 }, () => {
  let t: CliServer;
  let running: string;
  before(async () => {
    t = await startCliServer();
    running = startedId(await runCli(t, ["start", "--", jobNode, slowPath, "600", "--interval", "100"]));
  });
  after(() => t.close());

  test("status of a running job reads like systemctl status", async () => {
    const result = await runCli(t, ["status", running]);
    assert.equal(result.code, 0);
    const text = result.stdout.toString();
    assert.match(text, new RegExp(`^● ${running} - running\n`));
    assert.match(text, /\n +State: running since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC; [\d.]+(ms|s|m) ago\n/);
    assert.match(text, /\n +Command: \S+node\S* \S+slow\.js 600 --interval 100\n/);
    assert.match(text, /\n +Owner: alice\n +User: alice \(uid 6\d{4}\)\n/);
    assert.match(text, /\n +PID: \d+\n/);
    assert.match(text, /\n +Output: stdout \d+(\.\d)? [kKMG]?i?B, stderr \d+(\.\d)? [kKMG]?i?B \(separate\); limit 1 GiB\n/);
    assert.match(text, new RegExp(`\n +Cgroup: .*${t.server.manager.cgroups.parent ?? "none"}`));
  });

  test("status --json of a running job", async () => {
    const job = jsonOf(await runCli(t, ["status", "--json", running]));
    assert.equal(job.id, running);
    assert.equal(job.state, "running");
    assert.equal(job.exitCode, null);
    assert.equal(job.endTime, null);
    assert.match(String(job.startTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(typeof job.durationMs, "number");
    assert.equal(typeof (job.usage as Record<string, unknown>).cpuUsageUsec, "number");
    // The dynamic account alice's jobs run as.
    assert.equal(job.account, "alice");
    assert.ok(typeof job.uid === "number" && job.uid >= 61184 && job.uid <= 65519, String(job.uid));
    assert.equal(job.gid, job.uid);
    assert.match(String(job.workingDirectory), /\/homes\/alice$/);
  });

  test("an ended job keeps its usage: pressure where the host has it, and --timeline charts its CPU", async () => {
    const id = startedId(await runCli(t, ["start", "--", jobNode, slowPath, "1", "--spin", "1"]));
    await runCli(t, ["logs", "-f", id]);
    const text = (await runCli(t, ["status", id])).stdout.toString();
    const json = jsonOf(await runCli(t, ["status", "--json", "--timeline", id]));
    const usage = json.usage as { pressure: { cpu: { someTotalUsec: number; someAvg10: number | null } | null } };
    // Pressure needs a kernel with PSI; once the job ended only the totals remain.
    if (usage.pressure.cpu === null) assert.doesNotMatch(text, /Pressure:/);
    else {
      assert.match(text, /\n +Pressure: cpu some \d/);
      assert.equal(usage.pressure.cpu.someAvg10, null);
    }
    const samples = (json.timeline as { samples: { cpu: number | null }[] }).samples;
    // The spinning job's share of a CPU is what the machine leaves it: 0.24 was seen at load 7 on 2 cores.
    assert.ok(samples.length >= 1 && samples.some((s) => (s.cpu ?? 0) > 0.1), JSON.stringify(samples));
    const chart = (await runCli(t, ["status", "--timeline", id])).stdout.toString();
    assert.match(chart, /\n {2}Timeline: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC to .* \(\d+ points?, sampled every 5s\)\n +CPU: [▁▂▃▄▅▆▇█ ]+ {2}max \d\.\d\d CPU\n$/);
    assert.equal(jsonOf(await runCli(t, ["status", "--json", id])).timeline, null);
  });

  test("stop --grace 0 kills at once and prints the final state; a second stop prints the same", async () => {
    const id = startedId(await runCli(t, ["start", "--", "sleep", "600"]));
    const stopped = await runCli(t, ["stop", "--grace", "0", id]);
    assert.equal(stopped.code, 0, stopped.stderr);
    // Zero grace: SIGTERM and the kill go out together, so either may be what ended `sleep`.
    const match = new RegExp(`^○ ${id} - stopped\n +State: stopped by alice \\(killed by (SIGKILL|SIGTERM)\\) at .* UTC; ran [\\d.]+(ms|s)\n`).exec(stopped.stdout.toString());
    assert.ok(match, stopped.stdout.toString());
    const again = jsonOf(await runCli(t, ["stop", "--json", id]));
    assert.deepEqual([again.state, again.signal, again.stoppedBy, again.exitCode], ["stopped", match[1], "alice", null]);
  });

  test("stop with a grace period: SIGTERM ends a job that honours it", async () => {
    const id = startedId(await runCli(t, ["start", "--", "sleep", "600"]));
    const job = jsonOf(await runCli(t, ["stop", "--json", "--grace", "1m30s", id]));
    assert.deepEqual([job.state, job.signal], ["stopped", "SIGTERM"]);
  });

  test("stop escalates to SIGKILL after the grace period when SIGTERM is ignored", async () => {
    const id = startedId(await runCli(t, ["start", "--", jobNode, slowPath, "600", "--ignore-term"]));
    // Wait until slow has installed its handler: it prints "line 1" after handling its options.
    const follower = spawnCli(t, ["logs", "-f", "--stream", "stdout", id]);
    let seen = "";
    for await (const chunk of follower.stdout ?? []) {
      seen += String(chunk);
      if (seen.includes("line 1\n")) break;
    }
    follower.kill("SIGINT");
    const started = performance.now();
    const job = jsonOf(await runCli(t, ["stop", "--json", "--grace", "500ms", id]));
    assert.deepEqual([job.state, job.signal], ["stopped", "SIGKILL"]);
    assert.ok(performance.now() - started >= 500, "waited the grace period");
  });

  test("bad ids and grace periods exit 2 before any request", async () => {
    const cases: [string[], RegExp][] = [
      [["stop", "--grace", "5", running], /--grace: "5" is not a duration; use a number with a unit, ms, s, m or h/],
      [["status", "12345"], /"12345" is not a job id/],
      [["status", "--server", "nohost:", running], /--server: "nohost:" is not a server address/],
    ];
    await Promise.all(cases.map(async ([args, message]) => {
      const result = await runCli(t, args, { server: "127.0.0.1:1" });
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, /^jobexec: [^\n]+\n$/);
      assert.match(result.stderr, message);
    }));
  });
});
