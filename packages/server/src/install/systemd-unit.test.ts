import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "@jobexec/proto";
import { initCertificates } from "../certificates/cert-files.ts";
import { DEFAULT_EXEC, systemdUnit } from "./systemd-unit.ts";
import { testCgroupParent } from "../test-support/cgroup-parent.ts";

const run = promisify(execFile);
const main = join(import.meta.dirname, "../main.ts");
const packaged = join(import.meta.dirname, "../../../../packaging/systemd/jobexec-server.service");
const analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].find((p) => existsSync(p));

/** `systemd-analyze verify`: its exit code and everything it printed (warnings are printed, not failed). */
async function verify(unitPath: string): Promise<{ code: number; output: string }> {
  assert.ok(analyze);
  return run(analyze, ["verify", unitPath]).then(
    ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, output: error.stdout + error.stderr }),
  );
}

/** The version of the systemd behind systemd-analyze (252 on Debian 12). */
async function systemdVersion(): Promise<number> {
  assert.ok(analyze);
  return Number(/^systemd (\d+)/.exec((await run(analyze, ["--version"])).stdout)?.[1]);
}

/**
 * What verify printed, less the one warning a systemd older than 254 gives: it does not know DelegateSubgroup= and
 * ignores it (the unit still loads; only --on-shutdown keep cannot survive a restart there).
 */
function warnings(output: string, version: number): string {
  const ignored = /: Unknown key '?DelegateSubgroup'? in section '?\[?Service\]?'?, ignoring\.$/;
  return output.split("\n").filter((line) => line !== "" && !(version < 254 && ignored.test(line))).join("\n");
}

/** The values of a key in the unit's [Service] section, in order. */
function serviceValues(unit: string, key: string): string[] {
  const service = unit.split(/^\[Service\]$/m)[1]?.split(/^\[/m)[0] ?? "";
  return [...service.matchAll(new RegExp(`^${key}=(.*)$`, "gm"))].map((m) => m[1] ?? "");
}

describe("the systemd unit", { timeout: 120_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "jobexec-systemd-"));
    // The server's data directory below it must be reachable by jobs' accounts.
    await chmod(dir, 0o711);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("packaging/systemd/jobexec-server.service is the unit for the defaults (regenerate: jobexec-server install-unit --print --exec /usr/local/bin/jobexec-server)", async () => {
    assert.equal(await readFile(packaged, "utf8"), systemdUnit({ exec: DEFAULT_EXEC, onShutdown: "stop" }));
  });

  for (const [onShutdown, killMode] of [["stop", "mixed"], ["keep", "process"]] as const) {
    test(`install-unit --on-shutdown ${onShutdown}: KillMode=${killMode}, delegation, and systemd-analyze verify finds nothing`, async (t) => {
      const { stdout } = await run(process.execPath, [main, "install-unit", "--dir", dir, "--on-shutdown", onShutdown, "--force"]);
      assert.match(stdout, /^wrote .*jobexec-server\.service \(--on-shutdown (stop|keep)\); now run: systemctl daemon-reload && systemctl enable --now jobexec-server\n$/);
      const path = join(dir, "jobexec-server.service");
      assert.equal((await stat(path)).mode & 0o777, 0o644);
      const unit = await readFile(path, "utf8");
      assert.deepEqual(serviceValues(unit, "KillMode"), [killMode]);
      assert.deepEqual(serviceValues(unit, "Delegate"), ["yes"]);
      assert.deepEqual(serviceValues(unit, "DelegateSubgroup"), ["supervisor"]);
      assert.deepEqual(serviceValues(unit, "OOMPolicy"), ["continue"]);
      assert.deepEqual(serviceValues(unit, "TasksMax"), ["infinity"]);
      assert.ok(serviceValues(unit, "Environment").includes(`JOBEXEC_ON_SHUTDOWN=${onShutdown}`));
      assert.deepEqual(serviceValues(unit, "ExecStart"), [`${process.execPath} ${main}`]);
      if (!analyze) return t.skip("systemd-analyze is not installed (apt-get install systemd)");
      const result = await verify(path);
      assert.equal(result.code, 0, result.output);
      assert.equal(warnings(result.output, await systemdVersion()), "", "no warnings either");
    });
  }

  test("systemd-analyze verify catches a broken unit (so the checks above can fail)", async (t) => {
    if (!analyze) return t.skip("systemd-analyze is not installed (apt-get install systemd)");
    const broken = join(dir, "broken", "jobexec-server.service");
    await mkdir(join(dir, "broken"));
    await run(process.execPath, [main, "install-unit", "--dir", join(dir, "broken"), "--exec", "/no/such/jobexec-server"]);
    const result = await verify(broken);
    assert.notEqual(result.code, 0);
    assert.match(result.output, /\/no\/such\/jobexec-server is not executable/);
  });

  test("the unit's command and environment start a server (with test paths for its directories)", async () => {
    const unit = (await run(process.execPath, [main, "install-unit", "--print"])).stdout;
    const [program, ...args] = (serviceValues(unit, "ExecStart")[0] ?? "").split(" ");
    const environment = Object.fromEntries(serviceValues(unit, "Environment").flatMap((line) => line.split(" ")).map((kv) => kv.split("=", 2) as [string, string]));
    assert.equal(environment.JOBEXEC_CONFIG_DIR, "/etc/jobexec");
    assert.equal(environment.JOBEXEC_DATA_DIR, "/var/lib/jobexec");
    const config = join(dir, "etc-jobexec");
    await initCertificates(config, { user: "tester" });
    const child = spawn(program ?? "", args, {
      env: { ...process.env, ...environment, JOBEXEC_CONFIG_DIR: config, JOBEXEC_DATA_DIR: join(dir, "var-lib-jobexec"), JOBEXEC_LISTEN: "127.0.0.1:0", JOBEXEC_CGROUP_PARENT: testCgroupParent() },
      stdio: ["ignore", "ignore", "pipe"],
    });
    try {
      let log = "";
      const address = await new Promise<string>((resolve, reject) => {
        child.stderr?.on("data", (chunk: Buffer) => {
          log += chunk.toString();
          const listening = /"msg":"listening","address":"([^"]+)"/.exec(log);
          if (listening) resolve(listening[1] ?? "");
        });
        child.once("exit", (code) => reject(new Error(`server exited ${code}: ${log}`)));
      });
      const read = (name: string) => readFile(join(config, name), "utf8");
      const nodeOptions = { ca: await read("ca.pem"), cert: await read("client.pem"), key: await read("client.key") };
      const health = createClient(Health, createGrpcTransport({ baseUrl: `https://${address}`, nodeOptions }));
      assert.equal((await health.check({})).status, HealthCheckResponse_ServingStatus.SERVING);
    } finally {
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    }
    assert.equal(child.exitCode, 0);
  });

  test("install-unit refuses to replace a unit without --force, and a bad --on-shutdown is a usage error", async () => {
    const again = await run(process.execPath, [main, "install-unit", "--dir", dir]).then(() => assert.fail("must refuse"), (e: { code: number; stderr: string }) => e);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /jobexec-server\.service already exists; use --force to replace it/);
    const bad = await run(process.execPath, [main, "install-unit", "--print", "--on-shutdown", "later"]).then(() => assert.fail("must refuse"), (e: { code: number; stderr: string }) => e);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--on-shutdown "later" is not stop or keep/);
  });
});
