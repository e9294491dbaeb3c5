import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli, startCliServer, type CliServer } from "../testing/cli-fixture.ts";

interface Manifest {
  commands: Record<string, { examples?: unknown[]; description?: string; flags: Record<string, unknown> }>;
}

describe("help and completion", { timeout: 300_000 }, () => {
  let t: CliServer;
  const cache = mkdtempSync(join(tmpdir(), "jobexec-cli-cache-"));
  before(async () => {
    t = await startCliServer();
  });
  after(async () => {
    rmSync(cache, { recursive: true, force: true });
    await t.close();
  });

  test("every command has examples and documents the exit codes (in the built manifest the CLI loads)", () => {
    const manifest = JSON.parse(readFileSync(new URL("../../oclif.manifest.json", import.meta.url), "utf8")) as Manifest;
    // help and autocomplete are oclif's own commands, bundled in (no plugin is loaded at start-up).
    const oclifs = ["autocomplete", "autocomplete:create", "autocomplete:script", "help"];
    const contexts = ["context:add", "context:current", "context:list", "context:remove", "context:use"];
    assert.deepEqual(Object.keys(manifest.commands).sort(), [...oclifs, ...contexts, "list", "logs", "queue", "rm", "start", "status", "stop", "ui", "wait"].sort());
    for (const [id, command] of Object.entries(manifest.commands).filter(([id]) => !oclifs.includes(id))) {
      assert.ok((command.examples?.length ?? 0) >= 2, `${id} has examples`);
      assert.match(command.description ?? "", /Exit codes: 0 success; 1 failure .* 2 usage error .* 130 interrupted by Ctrl-C/, id);
      if (contexts.includes(id)) continue;
      for (const flag of ["server", "cert", "key", "ca", "context"]) assert.ok(flag in command.flags, `${id} --${flag}`);
      // logs copies bytes and ui serves a page: neither prints data to put in JSON.
      if (id !== "logs" && id !== "ui") assert.ok("json" in command.flags, `${id} --json`);
    }
  });

  test("jobexec --help lists the commands; start --help shows the units and examples", async () => {
    const top = await runCli(t, ["--help"]);
    assert.equal(top.code, 0);
    for (const id of ["start", "stop", "status", "logs", "list", "rm", "autocomplete", "context"]) assert.match(top.stdout.toString(), new RegExp(`\n  ${id} +\\S`), id);
    const start = await runCli(t, ["start", "--help"]);
    assert.equal(start.code, 0);
    const text = start.stdout.toString();
    assert.match(text, /USAGE\n +\$ jobexec start \[FLAGS\] -- PROGRAM \[ARGS\.\.\.\]/);
    assert.match(text, /K, M, G, T are\s+powers of 1024 as in systemd and Docker \(256M = 256Mi = 268,435,456\s+bytes\);\s+KB, MB, GB, TB are powers of 1000/);
    assert.match(text, /EXAMPLES\n/);
  });

  test("bash completion knows the commands and their flags", async () => {
    const result = await runCli(t, ["autocomplete", "bash"], { env: { XDG_CACHE_HOME: cache } });
    assert.equal(result.code, 0, result.stderr);
    const functions = readFileSync(join(cache, "jobexec", "autocomplete", "functions", "bash", "jobexec.bash"), "utf8");
    assert.match(functions, /\nstart --cpu --cpu-weight --memory --pids --io-device .* --follow --json --server --cert --key --ca --context\n/);
    assert.match(functions, /\nlogs --follow --stream --tail --server --cert --key --ca --context\n/);
    assert.match(functions, /\ncontext:add --server --cert --key --ca --bundle --force\n/);
  });
});
