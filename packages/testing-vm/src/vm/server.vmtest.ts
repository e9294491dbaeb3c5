// jobexec-server as systemd would run it: inside a delegated unit cgroup, a job started through the CLI,
// leftovers of a crashed run killed at start-up, and SIGTERM removing everything it made.
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readFileSync, rmdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createCa, issueCertificate } from "@jobexec/server";
import { cgroupProcs, processesMatching, vmTestTimeout } from "./support.ts";
import { delegateService } from "./delegation.ts";

const SERVICE = "/sys/fs/cgroup/system.slice/jobexec.service";
const serverMain = fileURLToPath(new URL("./main.js", import.meta.resolve("@jobexec/server")));
const cliMain = resolve(import.meta.dirname, "../../../cli/bin/run.js");

/** Starts `args` (node first) with its first instruction already in `cgroup`, as systemd does. */
function spawnIn(cgroup: string, args: string[], options: { detached?: boolean } = {}): ChildProcess {
  return spawn("sh", ["-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    ...options,
  });
}

/** Resolves with the server's "listening" log line, once it wrote it on stderr. */
async function listening(server: ChildProcess): Promise<{ address: string }> {
  let text = "";
  for await (const chunk of server.stderr ?? []) {
    text += String(chunk);
    for (const line of text.split("\n")) {
      if (line.startsWith("{") && line.includes('"listening"')) return JSON.parse(line) as { address: string };
    }
  }
  throw new Error(`the server ended without listening:\n${text}`);
}

describe("jobexec-server in a delegated unit cgroup", { timeout: vmTestTimeout * 2 }, () => {
  let dir: string;
  let server: ChildProcess;
  let exited: Promise<unknown[]>;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "jobexec-vm-server-"));
    const ca = await createCa("vm test CA");
    const serverCert = await issueCertificate(ca, { subject: { commonName: "jobexec-server" }, usage: "server", sans: ["127.0.0.1"] });
    const alice = await issueCertificate(ca, { subject: { commonName: "alice" }, usage: "client" });
    const files = { "ca.pem": ca.cert, "server.pem": serverCert.cert, "server.key": serverCert.key, "alice.pem": alice.cert, "alice.key": alice.key };
    await Promise.all(Object.entries(files).map(([name, pem]) => writeFile(join(dir, name), pem)));

    delegateService(SERVICE);
    // What a crashed earlier run left: a job cgroup with a live process in it.
    const leftover = join(SERVICE, "jobexec/leftover");
    mkdirSync(leftover, { recursive: true });
    const orphan = spawnIn(leftover, ["sleep", "8001"], { detached: true });
    orphan.unref();
    await once(orphan, "spawn");

    server = spawnIn(SERVICE, [
      process.execPath, serverMain, "--listen", "127.0.0.1:0", "--cert", join(dir, "server.pem"), "--key", join(dir, "server.key"),
      "--client-ca", join(dir, "ca.pem"), "--data-dir", join(dir, "data"), "--grace", "1s",
    ]);
    exited = once(server, "exit");
    const { address } = await listening(server);
    env = { ...process.env, JOBEXEC_SERVER: address, JOBEXEC_CERT: join(dir, "alice.pem"), JOBEXEC_KEY: join(dir, "alice.key"), JOBEXEC_CA: join(dir, "ca.pem") };
  });
  after(async () => {
    server.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    if (existsSync(SERVICE)) rmdirSync(SERVICE);
  });

  test("at start-up the server killed the leftover job and moved itself into a leaf", () => {
    assert.deepEqual(processesMatching("sleep 8001"), []);
    assert.equal(existsSync(join(SERVICE, "jobexec/leftover")), false);
    assert.deepEqual(cgroupProcs(SERVICE), [], "no internal process in the unit's cgroup");
    assert.deepEqual(cgroupProcs(join(SERVICE, "supervisor")), [server.pid]);
  });

  let jobCgroup: string;
  test("a job started with the CLI runs in its own cgroup under the unit with its limits", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [cliMain, "start", "--json", "--memory", "64M", "--pids", "50", "--", "sh", "-c", "exec sleep 8002"],
      { env },
    );
    const job = JSON.parse(stdout) as { id: string; state: string; limits: { memoryMaxBytes: number } };
    assert.equal(job.state, "running");
    jobCgroup = join(SERVICE, "jobexec", job.id);
    assert.equal(readFileSync(join(jobCgroup, "memory.max"), "utf8").trim(), String(64 * 1024 * 1024));
    assert.equal(readFileSync(join(jobCgroup, "pids.max"), "utf8").trim(), "50");
    assert.deepEqual(cgroupProcs(jobCgroup), processesMatching("sleep 8002"));
  });

  test("SIGTERM: the server stops its jobs, removes its sub-tree and its leaf, and exits 0", async () => {
    server.kill("SIGTERM");
    const [code] = await exited;
    assert.equal(code, 0);
    assert.deepEqual(processesMatching("sleep 8002"), []);
    assert.equal(existsSync(join(SERVICE, "jobexec")), false);
    assert.equal(existsSync(join(SERVICE, "supervisor")), false);
    assert.deepEqual(cgroupProcs(SERVICE), []);
  });
});
