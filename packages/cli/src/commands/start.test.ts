import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { jobNode, slowPath } from "@jobexec/testing-slow";
import { collectCli, jsonOf, runCli, spawnCli, startCliServer, startedId, type CliServer } from "../testing/cli-fixture.ts";

// A real server in this process, the CLI as a subprocess.
describe("jobexec start", { timeout: 300_000 }, () => {
  let t: CliServer;
  before(async () => {
    t = await startCliServer();
  });
  after(() => t.close());

  test("prints only the job id; the job runs the command verbatim with env, cwd and merged output", async () => {
    const id = startedId(await runCli(t, ["start", "--env", "A=x y", "--env", "B==", "--cwd", "/tmp", "--merge-output", "--",
      "sh", "-c", 'echo "$A|$B|$1|$2"; pwd; echo err >&2', "sh", "--json", "-f"]));
    const logs = await runCli(t, ["logs", "-f", id]);
    assert.equal(logs.code, 0);
    assert.equal(logs.stdout.toString(), "x y|=|--json|-f\n/tmp\nerr\n");
    assert.equal(logs.stderr, "");
  });

  test("--env NAME and --env-file keep secrets off the command line; the job gets them exactly", async () => {
    const file = join(t.dir, "deploy.env");
    await writeFile(file, "# for the deploy\nURL=https://example/?a=b c\nTOKEN=overridden by --env TOKEN after it\n");
    const start = spawnCli(t, ["start", "--env-file", file, "--env", "TOKEN", "--", "sh", "-c", 'echo "$URL|$TOKEN"'], { env: { TOKEN: "s3cret 'x'" } });
    // Nothing of the secret on the CLI's command line, where `ps` shows it to every user of the host.
    const cmdline = await readFile(`/proc/${String(start.pid)}/cmdline`, "utf8").catch(() => "");
    assert.ok(!cmdline.includes("s3cret"), cmdline);
    const id = startedId(await collectCli(start));
    const logs = await runCli(t, ["logs", "-f", id]);
    assert.equal(logs.stdout.toString(), "https://example/?a=b c|s3cret 'x'\n");
  });

  test("--json prints the started job", async () => {
    const job = jsonOf(await runCli(t, ["start", "--json", "--", "sleep", "0.1"]));
    assert.equal(job.state, "running");
    assert.equal(job.owner, "alice");
    assert.equal(job.program, "sleep");
    assert.deepEqual(job.args, ["0.1"]);
    assert.match(String(job.id), /^[0-9a-f-]{36}$/);
    assert.equal(typeof job.pid, "number");
  });

  test("-f streams stdout and stderr apart, byte for byte, and exits with the job's code", async () => {
    const ok = await runCli(t, ["start", "-f", "--", "sh", "-c", "printf out; printf err >&2; printf more"]);
    assert.deepEqual([ok.code, ok.stdout.toString(), ok.stderr], [0, "outmore", "err"]);
    const three = await runCli(t, ["start", "-f", "--", "sh", "-c", "echo bye; exit 3"]);
    assert.deepEqual([three.code, three.stdout.toString(), three.stderr], [3, "bye\n", ""]);
  });

  test("-f exits with 128 + the signal number when a signal killed the job", async () => {
    const killed = await runCli(t, ["start", "-f", "--", "sh", "-c", "kill -9 $$"]);
    assert.equal(killed.code, 128 + 9);
    const terminated = await runCli(t, ["start", "-f", "--", "sh", "-c", "kill -15 $$"]);
    assert.equal(terminated.code, 128 + 15);
    assert.equal(terminated.stderr, "");
  });

  test("-f follows a job that writes over time to its end", async () => {
    const result = await runCli(t, ["start", "-f", "--", jobNode, slowPath, "3", "4", "--interval", "100"]);
    assert.equal(result.code, 4);
    assert.equal(result.stdout.toString(), "line 1\nline 3\nexited 4\n");
    assert.equal(result.stderr, "line 2\n");
  });

  test("limits reach the server: applied where the host has the controllers, refused with the reason where not", async () => {
    const result = await runCli(t, ["start", "--json", "--memory", "256Mi", "--pids", "32", "--", "sleep", "0.1"]);
    const controllers = t.server.manager.cgroups.controllers;
    if (controllers.includes("memory") && controllers.includes("pids")) {
      const job = jsonOf<{ limits: { memoryMaxBytes: number; pidsMax: number } }>(result);
      assert.equal(job.limits.memoryMaxBytes, 268_435_456);
      assert.equal(job.limits.pidsMax, 32);
    } else {
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^jobexec: 127\.0\.0\.1:\d+ refused the request: .*(memory|pids).* not available on this host; to enforce limits the server needs the controllers in its cgroup v2 hierarchy: a pure cgroup v2 host \(on a hybrid one, boot with systemd\.unified_cgroup_hierarchy=1, .*\), and under systemd a unit with Delegate=yes/);
    }
  });

  test("a program the server cannot find is refused with its reason, exit 1", async () => {
    const result = await runCli(t, ["start", "--", "/no/such/program"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^jobexec: 127\.0\.0\.1:\d+ refused the request: .*\/no\/such\/program.*not found.*\n$/);
    assert.equal(result.stdout.length, 0);
  });

  test("bad command lines exit 2 with one line, before anything is sent", async () => {
    // A closed port: a request that went out would fail with exit 1 instead. (Every message of every value check
    // is covered by the unit tests of start-request.ts, units.ts and duration.ts; these show the whole path.)
    const server = "127.0.0.1:1";
    const cases: [string[], RegExp][] = [
      [["start"], /missing program: put the command after --/],
      [["start", "echo", "hi"], /unexpected argument "echo": put the program and its arguments after --/],
      [["start", "--memory", "12X", "--", "true"], /--memory: "12X" is not a size; .*K, M, G, T \(powers of 1024, also written Ki, Mi, Gi, Ti\) or KB, MB, GB, TB \(powers of 1000\)/],
      [["start", "--env", "NOEQUALS", "--", "true"], /--env NOEQUALS: NOEQUALS is not set in this environment/],
      [["start", "--env-file", "/no/such.env", "--", "true"], /--env-file \/no\/such\.env: cannot read it: no such file/],
      [["start", "--io-write-bps", "1M", "--io-device", "8:0", "--", "true"], /--io-write-bps must come after the --io-device it limits/],
      [["start", "--bogus", "--", "true"], /^jobexec: unknown flag --bogus \(see `jobexec start --help`\)$/m],
      [["start", "--json", "-f", "--", "true"], /^jobexec: --json and --follow cannot be used together: --json prints the started job, --follow its output \(see `jobexec start --help`\)$/m],
    ];
    await Promise.all(cases.map(async ([args, message]) => {
      const result = await runCli(t, args, { server });
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, /^jobexec: [^\n]+\n$/, args.join(" "));
      assert.match(result.stderr, message, args.join(" "));
      assert.equal(result.stdout.length, 0);
    }));
  });
});
