// What a user who mistypes sees: the CLI run as a subprocess, each mistake answered in one line starting
// `jobexec: `, exit status 2, with the near miss when there is one, and nothing sent to the server.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { closest } from "@jobexec/proto/suggest";
import { cliPath, collectCli, runCli, startCliServer, type CliServer } from "./testing/cli-fixture.ts";

test("closest: the near miss within two edits (a swap is one), none for a far one", () => {
  assert.equal(closest("strat", ["list", "start", "status", "stop"]), "start");
  assert.equal(closest("stauts", ["list", "start", "status", "stop"]), "status");
  assert.equal(closest("--folow", ["--follow", "--stream", "--tail"]), "--follow");
  assert.equal(closest("LIST", ["list"]), "list");
  assert.equal(closest("xyzzy", ["list", "start", "status", "stop"]), undefined);
  assert.equal(closest("ls", ["list", "logs"]), undefined, "two letters are too few to guess from");
});

describe("usage errors", { timeout: 120_000 }, () => {
  let t: CliServer;
  before(async () => {
    t = await startCliServer();
  });
  after(() => t.close());

  const cases: [string[], string][] = [
    [["strat"], 'jobexec: unknown command "strat"; did you mean "start"? (see `jobexec help`)'],
    [["stauts", "x"], 'jobexec: unknown command "stauts"; did you mean "status"? (see `jobexec help`)'],
    [["xyzzy"], 'jobexec: unknown command "xyzzy"; the commands are autocomplete, context add, context current, context list, context remove, context use, help, list, logs, queue, rm, start, status, stop, ui, wait (see `jobexec help`)'],
    [["context", "ad"], 'jobexec: unknown command "context ad"; did you mean "context add"? (see `jobexec help`)'],
    [["help", "strat"], 'jobexec: unknown command "strat"; did you mean "start"? (see `jobexec help`)'],
    [["strat", "--help"], 'jobexec: unknown command "strat"; did you mean "start"? (see `jobexec help`)'],
    [["logs"], "jobexec: logs needs the job id: jobexec logs ID (see `jobexec logs --help`)"],
    [["status"], "jobexec: status needs the job id: jobexec status ID (see `jobexec status --help`)"],
    [["stop"], "jobexec: stop needs the job id, as printed by `jobexec start`: jobexec stop ID (see `jobexec stop --help`)"],
    [["status", "a", "b"], 'jobexec: unexpected argument "b": jobexec status ID (see `jobexec status --help`)'],
    [["list", "--stat", "running"], "jobexec: unknown flag --stat; did you mean --state? (see `jobexec list --help`)"],
    [["logs", "--folow", "x"], "jobexec: unknown flag --folow; did you mean --follow? (see `jobexec logs --help`)"],
    [["list", "--jsn=true"], "jobexec: unknown flag --jsn; did you mean --json? (see `jobexec list --help`)"],
    [["logs", "--frobnicate", "x"], "jobexec: unknown flag --frobnicate (see `jobexec logs --help`)"],
    [["list", "--state=runing"], 'jobexec: --state: "runing" is not one of queued, running, exited, stopped, failed; did you mean running? (see `jobexec list --help`)'],
    [["logs", "--stream", "bogus", "x"], 'jobexec: --stream: "bogus" is not one of stdout, stderr, both (see `jobexec logs --help`)'],
  ];
  for (const [args, expected] of cases) {
    test(`jobexec ${args.join(" ")}`, async () => {
      const result = await runCli(t, args, { user: "admin" });
      assert.deepEqual([result.code, result.stdout.toString(), result.stderr], [2, "", `${expected}\n`]);
      assert.deepEqual(await t.server.manager.list(), [], "nothing reached the server");
    });
  }

  test("help still works: for a command, for everything, and into a pipe that closes early", async () => {
    const list = await runCli(t, ["help", "list"]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout.toString(), /^List jobs, newest first\.\n\nUSAGE\n/);
    const top = await runCli(t, ["--help"]);
    assert.equal(top.code, 0, top.stderr);
    assert.match(top.stdout.toString(), /\nCOMMANDS\n/);
    const piped = await collectCli(spawn("bash", ["-c", '"$0" "$1" logs --help | head -n 1; exit "${PIPESTATUS[0]}"', process.execPath, cliPath], { stdio: ["ignore", "pipe", "pipe"] }));
    assert.deepEqual([piped.code, piped.stdout.toString(), piped.stderr], [0, "Print a job's output: its stdout on stdout, its stderr on stderr.\n", ""]);
  });
});
