// The attack of issue 26 (item 7): strings a job or a client chose (a command line, a directory name, an owner name
// from a certificate, the server's error messages quoting them) carried ESC, BEL, CR and LF into an admin's
// terminal through `list` and `status`. Against a real server and the real CLI.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { issueCertificate } from "@jobexec/server";
import { jsonOf, runCli, startCliServer, startedId, type CliResult, type CliServer } from "./testing/cli-fixture.ts";

// Sets the terminal's title, clears the screen, returns to the line's start and forges a table row on a new line.
const title = "\u001b]0;pwned\u0007";
const clear = "\u001b[2J\u001b[H";
const forged = "\r\n00000000-0000-0000-0000-000000000000  root   exited   exit code 0";
const payload = `${title}${clear}x${forged}`;
const shown = "\\e]0;pwned\\x07\\e[2J\\e[Hx\\r\\n00000000-0000-0000-0000-000000000000  root   exited   exit code 0";

/** Checks that `text` holds no control character but the line ends. */
function assertInert(text: string): void {
  // eslint-disable-next-line no-control-regex -- looking for control characters is the point
  assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/, JSON.stringify(text));
}

function humanOk(result: CliResult): string {
  assert.equal(result.code, 0, result.stderr);
  const text = result.stdout.toString();
  assertInert(text);
  return text;
}

describe("control characters from jobs and clients reach no terminal", { timeout: 300_000 }, () => {
  let t: CliServer;
  let id: string;
  let directory: string;
  let config: string;
  const evil = `eve${title}`;
  before(async () => {
    t = await startCliServer();
    // A directory whose name carries the escapes, for the job to run in.
    directory = join(t.dir, `work${clear}`);
    await mkdir(directory, { mode: 0o777 });
    // An identity whose certificate's CN carries them too.
    const eve = await issueCertificate(t.ca, { subject: { commonName: evil }, usage: "client" });
    config = join(t.dir, "users", "eve");
    await mkdir(config);
    await writeFile(join(config, "client.pem"), eve.cert);
    await writeFile(join(config, "client.key"), eve.key, { mode: 0o600 });
    await writeFile(join(config, "ca.pem"), t.ca.cert);
    id = startedId(await runCli(t, ["start", "--cwd", directory, "--", "echo", payload], { env: { JOBEXEC_CONFIG_DIR: config } }));
    await runCli(t, ["logs", "-f", id], { user: "admin" });
  });
  after(() => t.close());

  test("status shows the command, directory and owner with the escapes visible", async () => {
    const text = humanOk(await runCli(t, ["status", id], { user: "admin" }));
    assert.ok(text.endsWith("\n"));
    assert.ok(text.includes(`Command: echo '${shown}'\n`), text);
    assert.ok(text.includes("Directory: " + directory.replace(clear, "\\e[2J\\e[H") + "\n"), text);
    assert.ok(text.includes("Owner: eve\\e]0;pwned\\x07\n"), text);
  });

  test("list shows one line per job, the escapes visible, nothing forged", async () => {
    const text = humanOk(await runCli(t, ["list", "--all"], { user: "admin" }));
    const lines = text.trimEnd().split("\n");
    assert.equal(lines.length, 2, text);
    assert.match(lines[1] ?? "", new RegExp(`^${id}  eve\\\\e\\]0;pwned\\\\x07  exited +exit code 0 .* echo '\\\\e\\]0;pwned\\\\x07\\\\e\\[2J\\\\e\\[Hx\\\\r\\\\n`));
  });

  test("--json stays exact", async () => {
    const job = jsonOf(await runCli(t, ["status", "--json", id], { user: "admin" }));
    assert.deepEqual([job.program, job.args, job.owner, job.workingDirectory], ["echo", [payload], evil, directory]);
    const listed = jsonOf<{ jobs: Record<string, unknown>[] }>(await runCli(t, ["list", "--json", "--all"], { user: "admin" }));
    assert.deepEqual(listed.jobs.map((j) => [j.program, j.args, j.owner]), [["echo", [payload], evil]]);
  });

  test("logs still copies the job's bytes exactly", async () => {
    const result = await runCli(t, ["logs", id], { user: "admin" });
    assert.equal(result.stdout.toString(), `${payload}\n`);
  });

  test("error messages quoting the command line or the server show the escapes visible", async () => {
    const usage = await runCli(t, ["start", "--cwd", `work${title}`, "--", "true"]);
    assert.equal(usage.code, 2);
    assert.equal(usage.stderr, `jobexec: --cwd: "work\\e]0;pwned\\x07" is not an absolute path (the job runs on the server, relative paths mean nothing there)\n`);
    const refused = await runCli(t, ["start", "--", `nothere${title}`]);
    assert.equal(refused.code, 1);
    assertInert(refused.stderr.replace(/\n$/, ""));
    assert.match(refused.stderr, /^jobexec: .* refused the request: program "nothere.*" not found/);
  });

  test("queue and a queued job's status show its owner with the escapes visible", async () => {
    const queued = startedId(await runCli(t, ["start", "--delay", "1h", "--", "true"], { env: { JOBEXEC_CONFIG_DIR: config } }));
    try {
      const summary = humanOk(await runCli(t, ["queue", "--all"], { user: "admin" }));
      assert.match(summary, /\neve\\e\]0;pwned\\x07 +0 +1 /, summary);
      const text = humanOk(await runCli(t, ["status", queued], { user: "admin" }));
      assert.ok(text.includes("Queued: #1 of eve\\e]0;pwned\\x07's queued, waits for: not before "), text);
    } finally {
      await runCli(t, ["stop", queued], { user: "admin" });
    }
  });
});
