import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jsonOf, runCli, startCliServer, startedId, type CliServer } from "../testing/cli-fixture.ts";

describe("jobexec rm, start --timeout and --max-output", { timeout: 120_000 }, () => {
  let t: CliServer;
  before(async () => {
    t = await startCliServer();
  });
  after(() => t.close());

  async function ended(args: string[]): Promise<string> {
    const id = startedId(await runCli(t, ["start", ...args]));
    assert.equal((await runCli(t, ["logs", "-f", id])).code, 0);
    return id;
  }

  test("rm deletes ended jobs and prints their ids; a running or unknown one is reported on stderr, the others still go, exit 1", async () => {
    const [a, b] = [await ended(["--", "true"]), await ended(["--", "echo", "hi"])];
    const running = startedId(await runCli(t, ["start", "--", "sleep", "600"]));
    const missing = "0b6c1b2e-4f6d-4a3e-9a57-3f0f3f3c2d10";
    const result = await runCli(t, ["rm", a, running, missing, b]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout.toString(), `${a}\n${b}\n`);
    const lines = result.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 2, result.stderr);
    assert.match(lines[0] ?? "", new RegExp(`^jobexec: .* refused the request: job ${running} is still running: stop it first$`));
    assert.equal(lines[1], `jobexec: job ${missing} not found`);
    const gone = await runCli(t, ["status", a]);
    assert.equal(gone.code, 1);
    assert.equal(gone.stderr, `jobexec: job ${a} not found\n`);
    await runCli(t, ["stop", "--grace", "0", running]);
    const json = jsonOf(await runCli(t, ["rm", "--json", running]));
    assert.deepEqual((json.jobs as { id: string; state: string }[]).map((j) => [j.id, j.state]), [[running, "stopped"]]);
  });

  test("rm refuses a malformed id before sending anything; another user's job is not found", async () => {
    const bad = await runCli(t, ["rm", "nope"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /"nope" is not a job id/);
    const id = await ended(["--", "true"]);
    const bobs = await runCli(t, ["rm", id], { user: "bob" });
    assert.equal(bobs.code, 1);
    assert.equal(bobs.stderr, `jobexec: job ${id} not found\n`);
    assert.equal((await runCli(t, ["rm", id], { user: "admin" })).code, 0, "admins may");
  });

  test("start --max-output: the job is killed past it and status says so plainly", async () => {
    const id = await ended(["--max-output", "1K", "--", "head", "-c", "100000000", "/dev/zero"]);
    const status = await runCli(t, ["status", id]);
    assert.match(status.stdout.toString(), /\n +State: stopped \(killed: output limit exceeded \(1 KiB\)\) at /);
    assert.match(status.stdout.toString(), /\n +Output: stdout .*; limit 1 KiB\n/);
    const job = jsonOf(await runCli(t, ["status", "--json", id]));
    assert.deepEqual([job.stopReason, job.maxOutputBytes, job.outcome], ["output_limit", 1024, "killed: output limit exceeded (1 KiB)"]);
    assert.match((await runCli(t, ["list"])).stdout.toString(), new RegExp(`${id} +alice +stopped +killed: output limit exceeded \\(1 KiB\\) `));
  });

  test("start --timeout: the job is stopped once it ran that long, and status says it timed out", async () => {
    const id = await ended(["--timeout", "500ms", "--", "sleep", "600"]);
    const status = (await runCli(t, ["status", id])).stdout.toString();
    assert.match(status, /\n +State: stopped \(timed out after 500ms, killed by SIGTERM\) at /);
    assert.match(status, /\n +Timeout: 500ms\n/);
    const job = jsonOf(await runCli(t, ["status", "--json", id]));
    assert.deepEqual([job.stopReason, job.timeoutMs, job.stoppedBy], ["timeout", 500, null]);
    for (const bad of [["--timeout", "0"], ["--timeout", "soon"], ["--max-output", "0"]]) {
      const refused = await runCli(t, ["start", ...bad, "--", "true"]);
      assert.equal(refused.code, 2, bad.join(" "));
    }
  });
});
