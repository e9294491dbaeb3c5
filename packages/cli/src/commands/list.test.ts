import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jsonOf, runCli, startCliServer, startedId, type CliServer } from "../testing/cli-fixture.ts";

interface Listed {
  jobs: { id: string; owner: string; state: string }[];
}

describe("jobexec list, and who sees what", { timeout: 300_000 }, () => {
  let t: CliServer;
  let aliceDone: string;
  let aliceRunning: string;
  let bobs: string;
  before(async () => {
    t = await startCliServer();
    aliceDone = startedId(await runCli(t, ["start", "--", "true"]));
    aliceRunning = startedId(await runCli(t, ["start", "--", "sleep", "600"]));
    bobs = startedId(await runCli(t, ["start", "--", "sleep", "600"], { user: "bob" }));
    await runCli(t, ["logs", "-f", aliceDone]);
  });
  after(() => t.close());

  test("a table of the caller's jobs, newest first", async () => {
    const result = await runCli(t, ["list"]);
    assert.equal(result.code, 0);
    const lines = result.stdout.toString().trimEnd().split("\n");
    assert.match(lines[0] ?? "", /^ID +OWNER +STATE +RESULT +CREATED +RAN +COMMAND$/);
    assert.equal(lines.length, 3);
    assert.match(lines[1] ?? "", new RegExp(`^${aliceRunning}  alice  running +\\d{4}-.* UTC +[\\d.]+(ms|s|m)[ \\d]* +sleep 600$`));
    assert.match(lines[2] ?? "", new RegExp(`^${aliceDone}  alice  exited +exit code 0 +\\d{4}-.* UTC +[\\d.]+m?s +true$`));
  });

  test("--json and --state filter", async () => {
    const all = jsonOf<Listed>(await runCli(t, ["list", "--json"]));
    assert.deepEqual(all.jobs.map((j) => j.id), [aliceRunning, aliceDone]);
    const exited = jsonOf<Listed>(await runCli(t, ["list", "--json", "--state", "exited", "--state", "failed"]));
    assert.deepEqual(exited.jobs.map((j) => j.id), [aliceDone]);
  });

  test("admins see everyone's jobs with --all, one user's with --owner", async () => {
    const all = jsonOf<Listed>(await runCli(t, ["list", "--json", "--all"], { user: "admin" }));
    assert.deepEqual(all.jobs.map((j) => j.id).sort(), [aliceDone, aliceRunning, bobs].sort());
    const bob = jsonOf<Listed>(await runCli(t, ["list", "--json", "--owner", "bob"], { user: "admin" }));
    assert.deepEqual(bob.jobs.map((j) => `${j.owner}:${j.id}`), [`bob:${bobs}`]);
    const table = await runCli(t, ["list", "--all"], { user: "admin" });
    assert.match(table.stdout.toString(), /\n\S+ +bob +running /);
  });

  test("a user's --all or --owner is refused: permission denied, exit 1", async () => {
    for (const args of [["list", "--all"], ["list", "--owner", "alice"]]) {
      const result = await runCli(t, args, { user: "bob" });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^jobexec: permission denied: [^\n]+\n$/);
      assert.equal(result.stdout.length, 0);
    }
  });

  test("another user's job is not found, exactly like a job that does not exist; admins reach it", async () => {
    const unknown = "00000000-0000-4000-8000-000000000000";
    const none = await runCli(t, ["status", unknown], { user: "bob" });
    assert.deepEqual([none.code, none.stderr], [1, `jobexec: job ${unknown} not found\n`]);
    for (const command of ["status", "logs", "stop"]) {
      const theirs = await runCli(t, [command, aliceRunning], { user: "bob" });
      assert.deepEqual([theirs.code, theirs.stderr, theirs.stdout.length], [1, `jobexec: job ${aliceRunning} not found\n`, 0], command);
    }
    assert.equal(jsonOf(await runCli(t, ["status", "--json", aliceRunning])).state, "running", "bob's stop did nothing");
    const stopped = jsonOf(await runCli(t, ["stop", "--json", "--grace", "0", aliceRunning], { user: "admin" }));
    assert.deepEqual([stopped.state, stopped.stoppedBy], ["stopped", "root"]);
  });

  test("pages are followed transparently (rows printed as they come), and --limit keeps the newest N", async () => {
    // Jobs with 120 KiB of arguments: the server bounds a page to 1 MiB, so 20 of them take three pages.
    const big = "z".repeat(120 * 1024);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.unshift((await t.server.manager.start({ program: "true", args: [big] }, "carol")).id);
    const listed = jsonOf<Listed>(await runCli(t, ["list", "--json", "--owner", "carol"], { user: "admin" }));
    assert.deepEqual(listed.jobs.map((j) => j.id), ids);
    const table = await runCli(t, ["list", "--owner", "carol"], { user: "admin" });
    const lines = table.stdout.toString().trimEnd().split("\n");
    assert.equal(lines.length, 21, "a header and 20 rows");
    assert.deepEqual(lines.slice(1).map((l) => l.split(" ")[0]), ids);
    const three = jsonOf<Listed>(await runCli(t, ["list", "--json", "--owner", "carol", "--limit", "3"], { user: "admin" }));
    assert.deepEqual(three.jobs.map((j) => j.id), ids.slice(0, 3));
    const one = await runCli(t, ["list", "--owner", "carol", "--limit", "1"], { user: "admin" });
    assert.equal(one.stdout.toString().trimEnd().split("\n").length, 2);
    assert.equal((await runCli(t, ["list", "--limit", "0"])).code, 2, "--limit must be positive");
  });

  test("no jobs: an empty table says so on stderr; --json prints an empty list", async () => {
    const empty = await runCli(t, ["list", "--state", "failed"]);
    assert.deepEqual([empty.code, empty.stdout.toString(), empty.stderr], [0, "", "no jobs\n"]);
    assert.deepEqual(jsonOf(await runCli(t, ["list", "--json", "--state", "failed"])), { jobs: [] });
  });
});
