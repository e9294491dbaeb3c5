// jobexec-server's standbys as an operator meets them, on a real server child process: jobs start from them by
// default, never show in ListJobs, and SIGTERM leaves none behind (with --on-shutdown keep too, where only the job
// is left for the next server); --standby 0 starts every job cold.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { JobService } from "@jobexec/proto";
import { initCertificates, readCredentials } from "./certificates/cert-files.ts";
import { testCgroupParent } from "./test-support/cgroup-parent.ts";
import { readOutput } from "./test-support/test-harness.ts";
import { alive, launchServer, listening, parentOf, waitFor } from "./test-support/test-process.ts";

const skip = process.getuid?.() !== 0 && "needs root";

describe("jobexec-server --standby", { skip, timeout: 120_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "jobexec-server-standby-"));
    await chmod(dir, 0o711);
    await initCertificates(join(dir, "config"), { user: "tester" });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function serve(name: string, args: string[], cgroupParent = testCgroupParent()) {
    const dataDir = join(dir, name);
    const child = launchServer(["--listen", "127.0.0.1:0", "--data-dir", dataDir, "--cgroup-parent", cgroupParent, ...args], { JOBEXEC_CONFIG_DIR: join(dir, "config") });
    const { url } = await listening(child);
    const { parent } = (await waitFor(() => child.lines.find((l) => l.msg === "cgroups"))) as unknown as { parent: string };
    const creds = await readCredentials(join(dir, "config"), "client");
    const client = createClient(JobService, createGrpcTransport({ baseUrl: url, nodeOptions: { ca: readFileSync(join(dir, "config", "ca.pem")), ...creds } }));
    return { child, client, parent, dataDir, cgroupParent };
  }

  /**
   * The pids of the standbys once there are `count`: the processes in the cgroups under the jobs' parent that are no
   * job's (each standby waits in the cgroup made for its job), blocked reading their request (fd 4).
   */
  const standbys = (parent: string, count: number, jobs: readonly string[] = []): Promise<number[]> =>
    waitFor(() => {
      const pids = readdirSync(parent, { withFileTypes: true })
        .filter((e) => e.isDirectory() && !jobs.includes(e.name))
        .flatMap((e) => readFileSync(join(parent, e.name, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number))
        .filter((pid) => readFileSync(`/proc/${pid}/syscall`, "utf8").startsWith("0 0x4 "));
      return pids.length === count ? pids : undefined;
    });

  test("by default a job starts from a standby, standbys are never listed, and SIGTERM leaves none behind", async (t) => {
    const { child, client, parent, dataDir } = await serve("default", []);
    t.after(() => child.proc.kill("SIGKILL"));
    const pids = await standbys(parent, 2);
    assert.deepEqual((await client.listJobs({})).jobs, []);
    const { job } = await client.startJob({ program: "/bin/echo", args: ["from", "a standby"] });
    assert.ok(job, "started");
    const out = await readOutput(client.streamOutput({ id: job.id, follow: true }));
    assert.deepEqual([out.stdout.toString(), out.job?.exitCode], ["from a standby\n", 0]);
    assert.ok(child.lines.some((l) => String(l.msg).startsWith("job started from a standby") && l.jobId === job.id));
    assert.deepEqual(
      (await client.listJobs({})).jobs.map((j) => j.id),
      [job.id],
    );
    const refilled = await standbys(parent, 2, [job.id]);
    child.proc.kill("SIGTERM");
    assert.equal(await child.exit, 0, child.stderr.join("\n"));
    for (const pid of [...pids, ...refilled]) assert.equal(alive(pid), false, `standby ${pid} is gone`);
    assert.equal(existsSync(parent), false, "no cgroup is left");
    assert.deepEqual(readdirSync(join(dataDir, "jobs")), [job.id], "the job's output stays, no standby's");
  });

  test("--on-shutdown keep: SIGTERM kills the standbys and leaves the job; the next server adopts it and makes new standbys", async (t) => {
    const first = await serve("keep", ["--on-shutdown", "keep"]);
    t.after(() => first.child.proc.kill("SIGKILL"));
    const pids = await standbys(first.parent, 2);
    const { job } = await first.client.startJob({ program: "sleep", args: ["60"] });
    assert.ok(job && pids.includes(parentOf(job.pid)), "the job came from a standby: its monitor is the standby's process");
    const left = await standbys(first.parent, 2, [job.id]);
    first.child.proc.kill("SIGTERM");
    assert.equal(await first.child.exit, 0, first.child.stderr.join("\n"));
    for (const pid of left) assert.equal(alive(pid), false, `standby ${pid} is gone`);
    assert.ok(alive(job.pid), "the job runs on");
    assert.deepEqual(
      readdirSync(first.parent, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name),
      [job.id],
      "only the job's cgroup is left",
    );
    assert.deepEqual(readdirSync(join(first.dataDir, "jobs")), [job.id]);

    const next = await serve("keep", [], first.cgroupParent);
    t.after(() => next.child.proc.kill("SIGKILL"));
    const fresh = await standbys(next.parent, 2, [job.id]);
    assert.ok(fresh.every((pid) => !left.includes(pid)));
    const listed = (await next.client.listJobs({})).jobs;
    assert.deepEqual(
      listed.map((j) => [j.id, j.pid]),
      [[job.id, job.pid]],
      "the adopted job, and no standby",
    );
    next.child.proc.kill("SIGTERM");
    assert.equal(await next.child.exit, 0, next.child.stderr.join("\n"));
    assert.equal(alive(job.pid), false, "stopped at the second shutdown");
    assert.equal(existsSync(next.parent), false, "no cgroup is left");
  });

  test("--standby 0: no standby, every job cold", async (t) => {
    const { child, client, parent } = await serve("cold", ["--standby", "0"]);
    t.after(() => child.proc.kill("SIGKILL"));
    const { job } = await client.startJob({ program: "/bin/echo", args: ["cold"] });
    assert.ok(job);
    const out = await readOutput(client.streamOutput({ id: job.id, follow: true }));
    assert.equal(out.stdout.toString(), "cold\n");
    assert.ok(child.lines.some((l) => String(l.msg).startsWith("job started cold") && l.jobId === job.id));
    assert.deepEqual(
      readdirSync(parent, { withFileTypes: true }).filter((e) => e.isDirectory()),
      [],
      "no cgroup was made ahead (the job's own is gone with it)",
    );
    child.proc.kill("SIGTERM");
    assert.equal(await child.exit, 0);
  });
});
