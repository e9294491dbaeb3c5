// The npm package (build/pack.ts) installed with the system's npm into an empty prefix and run by the system's Node
// (20 on the CI machine, not the project's 24): every command against a real server.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { collectCli, runCli, spawnCli, startCliServer, startedId, type CliServer, type SpawnOptions } from "./testing/cli-fixture.ts";
import { installPackage, systemNode, type InstalledPackage } from "./testing/npm-package.ts";

const run = promisify(execFile);

/** Every file under `dir`, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1));
}

describe("the npm package on the system's Node", { timeout: 300_000 }, () => {
  let dir: string;
  let t: CliServer;
  let pkg: InstalledPackage;
  let nodeVersion: string;
  const cli = (args: string[], options: SpawnOptions = {}) => runCli(t, args, { node: systemNode, cli: pkg.runJs, ...options });
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "jobexec-npm-test-"));
    [t, pkg, nodeVersion] = await Promise.all([startCliServer(), installPackage(dir), run(systemNode, ["--version"]).then((r) => r.stdout.trim())]);
  });
  after(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("the package is bundled JavaScript: no dependencies, no install scripts, no native modules, Node >= 20", async () => {
    const root = join(pkg.prefix, "lib", "node_modules", "jobexec");
    const manifest = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as Record<string, unknown>;
    assert.equal(manifest.name, "jobexec");
    assert.deepEqual(manifest.engines, { node: ">=20" });
    for (const key of ["dependencies", "optionalDependencies", "peerDependencies", "scripts", "gypfile"]) assert.equal(manifest[key], undefined, key);
    const files = await filesUnder(root);
    // JavaScript, its maps and manifests; the web console's page and style sheet (served by `jobexec ui`).
    assert.deepEqual(files.filter((file) => !/\.(js|cjs|json|md)$/.test(file) && !/^dist\/web\/.*\.(html|css)$/.test(file)), []);
    assert.ok(files.includes("dist/web/index.html"), "the web console's page is in the package");
    assert.equal(files.some((file) => file.includes("node_modules")), false);
    assert.ok(files.includes("dist/fast.cjs") && files.includes("dist/main.js") && files.includes("oclif.manifest.json"));
    assert.match(await readFile(pkg.runJs, "utf8"), /^#!\/usr\/bin\/env -S node --\n/);
  });

  test("`jobexec --version` and `--help` through the command npm made, on the system's Node", async () => {
    const env = { ...process.env, PATH: `${join(systemNode, "..")}:${process.env.PATH ?? ""}`, NO_COLOR: "1" };
    const version = await run(pkg.bin, ["--version"], { env });
    assert.match(version.stdout, new RegExp(`^jobexec/0\\.1\\.0 \\S+ node-${nodeVersion.replaceAll(".", "\\.")}\n$`));
    const help = await run(pkg.bin, ["--help"], { env });
    for (const command of ["start", "status", "list", "logs", "stop", "wait", "rm", "queue", "context", "autocomplete"]) assert.match(help.stdout, new RegExp(`\n  ${command} `));
  });

  test("every command against a real server", async () => {
    const ok = async (args: string[], options?: SpawnOptions) => {
      const result = await cli(args, options);
      assert.equal(result.code, 0, `${args.join(" ")}: exit ${String(result.code)}, stderr ${result.stderr}`);
      return result.stdout.toString();
    };
    const id = startedId(await cli(["start", "--env", "GREETING=hello", "--", "sh", "-c", "echo $GREETING"]));
    assert.equal(await ok(["wait", id]), "");
    assert.match(await ok(["status", id]), /State: exited \(exit code 0\)/);
    assert.equal((JSON.parse(await ok(["status", "--json", id])) as { id: string }).id, id);
    assert.equal(await ok(["status", id]), await ok(["status", id], { env: { JOBEXEC_NO_FAST_PATH: "1" } }));
    assert.match(await ok(["list"]), new RegExp(`${id}  alice  exited`));
    assert.match(await ok(["list", "-q"]), new RegExp(`^${id}$`, "m"));
    assert.equal(await ok(["logs", id]), "hello\n");
    const followed = await cli(["start", "-f", "--", "sh", "-c", "echo out; exit 3"]);
    assert.deepEqual([followed.code, followed.stdout.toString()], [3, "out\n"]);
    const sleeper = startedId(await cli(["start", "--", "sleep", "60"]));
    assert.match(await ok(["queue"]), /alice/);
    assert.match(await ok(["stop", "--grace", "1s", sleeper]), /stopped/);
    assert.equal(await ok(["rm", id]), `${id}\n`);
    assert.equal((await cli(["status", id])).code, 1);
    const config = t.configDir("alice");
    await ok(["context", "add", "here", "--server", t.address, "--cert", join(config, "client.pem"), "--key", join(config, "client.key"), "--ca", join(config, "ca.pem")]);
    await ok(["context", "use", "here"]);
    assert.match(await ok(["context", "current"], { server: null }), /context "here"/);
    assert.match(await ok(["context", "list"]), /^\*\s+here\s/m);
    assert.match(await ok(["list", "-q"], { server: null }), new RegExp(sleeper));
    await ok(["context", "use", "default"]);
    await ok(["context", "remove", "here"]);
    assert.match(await ok(["autocomplete", "bash"]), /jobexec/);
    assert.match(await ok(["help", "status"]), /USAGE/);
  });

  test("`jobexec ui` serves the console from the package, and nothing without the session", async () => {
    const child = spawnCli(t, ["ui", "--no-open"], { node: systemNode, cli: pkg.runJs });
    try {
      const openUrl = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout?.on("data", (b: Buffer) => {
          out += b.toString();
          if (out.includes("\n")) resolve(out.trim());
        });
        child.once("close", (code) => reject(new Error(`jobexec ui ended (${String(code)})`)));
      });
      const url = new URL(openUrl);
      assert.match(url.hash, /^#code=/);
      const page = await fetch(new URL("/", url));
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<html/i);
      const call = await fetch(new URL("/api/jobexec.v1.JobService/ListJobs", url), { method: "POST", headers: { "content-type": "application/json", "connect-protocol-version": "1" }, body: "{}" });
      assert.equal(call.status, 401);
    } finally {
      child.kill("SIGINT");
      await collectCli(child);
    }
  });
});
