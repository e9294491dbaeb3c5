import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { JobService, type Job } from "@jobexec/proto";
import { jobNode, slowPath } from "@jobexec/testing-slow";
import { initCertificates, readCredentials, writeCredentials } from "./certificates/cert-files.ts";
import { issueCertificate } from "./certificates/certificates.ts";
import { testCgroupParent } from "./test-support/cgroup-parent.ts";
import { alive, launchServer, serverMain, waitFor } from "./test-support/test-process.ts";

describe("jobexec-server process", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "jobexec-server-shutdown-"));
    // The data directories inside must be reachable by jobs' dynamic accounts; the config directory stays 0700.
    await chmod(dir, 0o711);
    await initCertificates(join(dir, "config"), { user: "tester" });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("SIGTERM with jobs and streams open: streams end UNAVAILABLE, jobs and cgroups are gone, exit 0", async (t) => {
    const cgroupParent = testCgroupParent();
    // Only what cannot default: the certificates come from JOBEXEC_CONFIG_DIR, as after `certs init`.
    const child = launchServer(["--listen", "127.0.0.1:0", "--data-dir", join(dir, "data"), "--cgroup-parent", cgroupParent, "--grace", "500ms"], {
      JOBEXEC_CONFIG_DIR: join(dir, "config"),
    });
    // Whatever fails below, the server is stopped the way it is meant to be, so no job outlives the test.
    t.after(async () => {
      if (child.proc.exitCode === null && child.proc.signalCode === null) {
        child.proc.kill("SIGTERM");
        await child.exit;
      }
    });
    const listening = await waitFor(() => child.lines.find((l) => l.msg === "listening"));
    const cgroups = await waitFor(() => child.lines.find((l) => l.msg === "cgroups"));
    assert.ok(cgroups && "mode" in cgroups && Array.isArray(cgroups.controllers), "start-up says the cgroup mode and controllers");
    const creds = await readCredentials(join(dir, "config"), "client");
    const transport = createGrpcTransport({ baseUrl: String(listening.url), nodeOptions: { ca: readFileSync(join(dir, "config", "ca.pem")), ...creds } });
    const client = createClient(JobService, transport);

    // Each job writes a first line, so each follower can prove it is streaming before the server is told to stop.
    const programs: [string, string[], number][] = [
      ["/bin/sh", ["-c", "echo started; exec sleep 1000"], 1],
      ["/bin/sh", ["-c", "trap '' TERM; echo started; sleep 1000"], 2],
      ["/bin/sh", ["-c", "sleep 1000 & sleep 1000 & echo started; wait"], 3],
      [jobNode, [slowPath, "1000", "--ignore-term", "--background"], 2],
    ];
    const jobs: Job[] = [];
    for (const [program, args] of programs) {
      const { job } = await client.startJob({ program, args });
      assert.ok(job);
      jobs.push(job);
    }
    // Every process of every job, background children included, once each job has them all.
    const procs = (cgroup: string) => readFileSync(join(cgroup, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
    const pids = await waitFor(() => {
      const found = jobs.map((job) => (job.cgroup ? procs(job.cgroup) : [job.pid]));
      return found.every((p, i) => p.length >= (jobs[i]?.cgroup ? (programs[i]?.[2] ?? 1) : 1)) ? found.flat() : undefined;
    });
    const streaming = await Promise.all(
      jobs.flatMap((job) =>
        [1, 2].map(async () => {
          const it = client.streamOutput({ id: job.id, follow: true })[Symbol.asyncIterator]();
          assert.equal((await it.next()).value?.event.case, "chunk");
          const rest = async () => {
            try {
              for (let m = await it.next(); !m.done; m = await it.next());
              return undefined;
            } catch (e) {
              return ConnectError.from(e);
            }
          };
          return { rest: rest() };
        }),
      ),
    );

    child.proc.kill("SIGTERM");
    const ended = await Promise.all(streaming.map((s) => s.rest));
    for (const err of ended) {
      assert.equal(err?.code, Code.Unavailable);
      assert.match(err.rawMessage, /server shutting down/);
    }
    assert.equal(await child.exit, 0, child.stderr.join("\n"));
    for (const pid of pids) assert.equal(alive(pid), false, `process ${pid} is gone`);
    for (const job of jobs) {
      if (!job.cgroup) continue;
      assert.equal(existsSync(job.cgroup), false, `${job.cgroup} removed`);
      assert.equal(existsSync(dirname(job.cgroup)), false, `${dirname(job.cgroup)} removed`);
    }
    assert.ok(child.lines.some((l) => l.msg === "stopped"));
  });

  test("keeps serving when whoever reads its logs goes away", async (t) => {
    const child = launchServer(["--listen", "127.0.0.1:0", "--data-dir", join(dir, "data3"), "--cgroup-parent", testCgroupParent()], {
      JOBEXEC_CONFIG_DIR: join(dir, "config"),
    });
    t.after(async () => {
      if (child.proc.exitCode === null && child.proc.signalCode === null) {
        child.proc.kill("SIGKILL");
        await child.exit;
      }
    });
    const listening = await waitFor(() => child.lines.find((l) => l.msg === "listening"));
    child.proc.stderr?.destroy(); // the log pipe's reader is gone: every log line now fails with EPIPE
    const creds = await readCredentials(join(dir, "config"), "client");
    const transport = createGrpcTransport({ baseUrl: String(listening.url), nodeOptions: { ca: readFileSync(join(dir, "config", "ca.pem")), ...creds } });
    const client = createClient(JobService, transport);
    for (let i = 0; i < 5; i++) {
      const { jobs } = await client.listJobs({});
      assert.ok(Array.isArray(jobs), `request ${i} after the log reader left is answered`);
    }
    child.proc.kill("SIGTERM");
    assert.equal(await child.exit, 0);
  });

  test("refuses to start with an expired certificate or a mismatched key: one line, exit 1", async () => {
    const config = join(dir, "config");
    const ca = await readCredentials(config, "ca");
    const day = 24 * 60 * 60 * 1000;
    const expired = await issueCertificate(ca, {
      subject: { commonName: "jobexec-server" },
      usage: "server",
      notBefore: new Date(Date.now() - 30 * day),
      notAfter: new Date(Date.now() - day),
    });
    await writeCredentials(dir, "expired", expired);
    const other = await issueCertificate(ca, { subject: { commonName: "x" }, usage: "server" });
    await writeCredentials(dir, "other", other);
    const cases: [string[], RegExp][] = [
      [["--cert", join(dir, "expired.pem"), "--key", join(dir, "expired.key")], /^jobexec-server: server certificate .*expired\.pem expired on \d{4}-/],
      [["--key", join(dir, "other.key")], /^jobexec-server: server key .*other\.key does not match certificate .*server\.pem$/],
      [["--cert", join(dir, "missing.pem")], /^jobexec-server: .*missing\.pem does not exist/],
    ];
    for (const [args, message] of cases) {
      const child = launchServer(["--listen", "127.0.0.1:0", "--data-dir", join(dir, "data2"), "--cgroup-parent", testCgroupParent(), ...args], {
        JOBEXEC_CONFIG_DIR: config,
      });
      assert.equal(await child.exit, 1);
      assert.equal(child.stderr.length, 1, child.stderr.join("\n"));
      assert.match(child.stderr[0] ?? "", message);
    }
  });

  test("a bad flag is a usage error (exit 2); --help describes every flag", async () => {
    const bad = launchServer(["--listen", "nowhere"], {});
    assert.equal(await bad.exit, 2);
    assert.match(bad.stderr.join("\n"), /listen address "nowhere"/);
    const help = spawn(process.execPath, [serverMain, "--help"], { stdio: ["ignore", "pipe", "inherit"] });
    let text = "";
    help.stdout.on("data", (d: Buffer) => (text += d.toString()));
    assert.equal(await new Promise((resolve) => help.once("exit", resolve)), 0);
    for (const flag of ["--listen", "--cert", "--key", "--client-ca", "--data-dir", "--cgroup-parent", "--grace", "--log-level", "--state-file", "--on-shutdown", "--max-output", "--max-timeout", "--retain", "--output-budget", "--min-free", "certs init", "certs issue"]) {
      assert.ok(text.includes(flag), `help mentions ${flag}`);
    }
  });
});
