import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { Code, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { JobService, JobState, OutputMode } from "@jobexec/proto";
import { jobNode, slowPath } from "@jobexec/testing-slow";
import { METRICS_MAX_CONNECTIONS } from "../network/connection-limits.ts";
import { failure, readOutput, startServerProcess, type ServerProcess } from "../test-support/test-harness.ts";
import { startServerProcess as startProcess, waitFor } from "../test-support/test-process.ts";

const run = promisify(execFile);

/** One sample of the Prometheus text format. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the text format's samples (comments skipped), enough for the checks below. */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k as string] = v as string;
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the sample with this name whose labels include `labels`, or 0 when there is none. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found.reduce((sum, s) => sum + s.value, 0);
}

async function scrape(url: string): Promise<{ text: string; samples: Sample[]; type: string }> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  const text = await res.text();
  return { text, samples: parse(text), type: res.headers.get("content-type") ?? "" };
}

function client(server: ServerProcess): Client<typeof JobService> {
  const read = (name: string) => readFileSync(join(server.configDir, name), "utf8");
  return createClient(JobService, createGrpcTransport({ baseUrl: server.url, nodeOptions: { ca: read("ca.pem"), cert: read("client.pem"), key: read("client.key") } }));
}

describe("Prometheus metrics, scraped from a jobexec-server process", { timeout: 180_000 }, () => {
  let server: ServerProcess;
  let metricsUrl: string;
  before(async () => {
    server = await startServerProcess(["--metrics-listen", "127.0.0.1:0"]);
    metricsUrl = String((await server.logged("metrics listening")).url);
  });
  after(() => server.stop());

  test("values move after real calls: starts by outcome, start latency, RPCs by method and code, jobs by state, output bytes", async () => {
    const jobs = client(server);
    const before = (await scrape(metricsUrl)).samples;
    const started = (await jobs.startJob({ program: jobNode, args: [slowPath, "--bytes", "12345"] })).job;
    assert.ok(started);
    const missing = await failure(jobs.startJob({ program: "/no/such/program" }));
    assert.equal(missing.code, Code.InvalidArgument);
    assert.equal((await failure(jobs.getJob({ id: "00000000-0000-4000-8000-000000000000" }))).code, Code.NotFound);
    const output = await readOutput(jobs.streamOutput({ id: started.id, follow: true }));
    assert.equal(output.stdout.length, 12345);
    assert.equal(output.job?.state, JobState.EXITED);

    const { samples, text, type } = await scrape(metricsUrl);
    assert.match(type, /^text\/plain; version=0\.0\.4/);
    const delta = (name: string, labels?: Record<string, string>) => value(samples, name, labels) - value(before, name, labels);
    assert.equal(delta("jobexec_jobs_started_total", { outcome: "started" }), 1);
    assert.equal(delta("jobexec_jobs_started_total", { outcome: "refused" }), 1);
    assert.equal(delta("jobexec_job_start_seconds_count"), 1);
    assert.ok(value(samples, "jobexec_job_start_seconds_sum") > 0);
    assert.equal(delta("jobexec_job_start_seconds_bucket", { le: "+Inf" }), 1);
    assert.equal(delta("jobexec_rpcs_total", { service: "jobexec.v1.JobService", method: "StartJob", code: "ok" }), 1);
    assert.equal(delta("jobexec_rpcs_total", { method: "StartJob", code: "invalid_argument" }), 1);
    assert.equal(delta("jobexec_rpcs_total", { method: "GetJob", code: "not_found" }), 1);
    assert.equal(delta("jobexec_rpcs_total", { method: "StreamOutput", code: "ok" }), 1);
    assert.equal(delta("jobexec_rpc_duration_seconds_count", { method: "StartJob" }), 2);
    assert.equal(delta("jobexec_output_streamed_bytes_total", { stream: "stdout" }), 12345);
    assert.equal(value(samples, "jobexec_jobs", { state: "exited" }), 1);
    assert.equal(value(samples, "jobexec_jobs", { state: "failed" }), 0);
    assert.equal(value(samples, "jobexec_jobs_running"), 0);
    assert.equal(delta("jobexec_job_usage_ended_total"), 1);
    assert.ok(samples.some((s) => s.name === "jobexec_job_cpu_seconds_total"));
    // The default process metrics.
    for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "nodejs_heap_size_used_bytes", "nodejs_eventloop_lag_seconds"]) {
      assert.ok(samples.some((s) => s.name === name), name);
    }
    // Bounded labels: no job id anywhere, no owner without --metrics-owner-labels.
    assert.doesNotMatch(text, new RegExp(started.id));
    assert.ok(samples.every((s) => !("owner" in s.labels)));
  });

  test("the queue: queued jobs, reserved against capacity, admissions and the time waited", async (t) => {
    const queued = await startServerProcess(["--metrics-listen", "127.0.0.1:0", "--max-running", "1", "--memory-capacity", "2G", "--standby", "0"]);
    t.after(() => queued.stop());
    const url = String((await queued.logged("metrics listening")).url);
    const jobs = client(queued);
    const blocker = (await jobs.startJob({ program: "sleep", args: ["1000"] })).job;
    const waiting = (await jobs.startJob({ program: "true" })).job;
    assert.equal(waiting?.state, JobState.QUEUED);
    let samples = (await scrape(url)).samples;
    assert.equal(value(samples, "jobexec_jobs_queued", { waiting_for: "capacity" }), 1);
    assert.equal(value(samples, "jobexec_jobs_queued", { waiting_for: "held" }), 0);
    assert.equal(value(samples, "jobexec_jobs", { state: "queued" }), 1);
    assert.equal(value(samples, "jobexec_jobs_started_total", { outcome: "queued" }), 1);
    assert.equal(value(samples, "jobexec_reserved", { resource: "running_jobs" }), 1);
    assert.equal(value(samples, "jobexec_capacity", { resource: "running_jobs" }), 1);
    assert.equal(value(samples, "jobexec_capacity", { resource: "memory_bytes" }), 2 * 1024 ** 3);
    assert.equal(value(samples, "jobexec_queue_admissions_total"), 0);
    await jobs.stopJob({ id: blocker?.id as string, gracePeriod: { seconds: 0n, nanos: 0 } });
    await readOutput(jobs.streamOutput({ id: waiting?.id as string, follow: true }));
    samples = (await scrape(url)).samples;
    assert.equal(value(samples, "jobexec_queue_admissions_total"), 1);
    assert.equal(value(samples, "jobexec_queue_wait_seconds_count"), 1);
    assert.ok(value(samples, "jobexec_queue_wait_seconds_sum") > 0);
    assert.equal(value(samples, "jobexec_jobs_queued", { waiting_for: "capacity" }), 0);
  });

  test("running jobs, open connections and open streams while a follower is attached", async () => {
    const jobs = client(server);
    const job = (await jobs.startJob({ program: jobNode, args: [slowPath, "30", "--interval", "100"] })).job;
    assert.ok(job);
    const abort = new AbortController();
    const follow = readOutput(jobs.streamOutput({ id: job.id, follow: true }, { signal: abort.signal })).catch(() => undefined);
    try {
      let samples: Sample[] = [];
      for (let i = 0; i < 100; i++) {
        samples = (await scrape(metricsUrl)).samples;
        if (value(samples, "jobexec_open_streams") >= 1) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(value(samples, "jobexec_jobs_running"), 1);
      assert.equal(value(samples, "jobexec_jobs", { state: "running" }), 1);
      assert.ok(value(samples, "jobexec_open_connections") >= 1);
      assert.ok(value(samples, "jobexec_open_streams") >= 1);
    } finally {
      abort.abort();
      await follow;
      await jobs.stopJob({ id: job.id, gracePeriod: { seconds: 0n } });
    }
  });

  test("the standby pool: standbys ready and booting, the pool's size, and starts by path (standby, cold)", async () => {
    const jobs = client(server);
    /** Scrapes until `check` holds on the samples (the pool refills in the background). */
    const until = async (what: string, check: (samples: Sample[]) => boolean): Promise<Sample[]> => {
      for (let i = 0; i < 600; i++) {
        const { samples } = await scrape(metricsUrl);
        if (check(samples)) return samples;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`timed out waiting until ${what}`);
    };
    const full = (size: number) => (samples: Sample[]) =>
      value(samples, "jobexec_standbys", { state: "ready" }) === size && value(samples, "jobexec_standbys", { state: "booting" }) === 0;
    const before = await until("2 standbys are ready", full(2));
    assert.equal(value(before, "jobexec_standby_pool_size"), 2);
    const path = (samples: Sample[], p: string) => value(samples, "jobexec_jobs_started_by_path_total", { path: p });

    // A separate-output job takes a ready standby; the first merged-output one starts cold and warms its mode up.
    for (const outputMode of [OutputMode.UNSPECIFIED, OutputMode.MERGED]) {
      const job = (await jobs.startJob({ program: "true", outputMode })).job;
      assert.ok(job);
      await readOutput(jobs.streamOutput({ id: job.id, follow: true }));
    }
    const after = await until("4 standbys are ready (2 per output mode)", full(4));
    assert.equal(value(after, "jobexec_standby_pool_size"), 4);
    assert.equal(path(after, "standby") - path(before, "standby"), 1);
    assert.equal(path(after, "cold") - path(before, "cold"), 1);
    const { text } = await scrape(metricsUrl);
    assert.match(text, /^# TYPE jobexec_jobs_started_by_path_total counter$/m);
    assert.match(text, /^# TYPE jobexec_standbys gauge$/m);
  });

  test("the text parses with Prometheus' own Python client (if python3-prometheus-client is installed)", async (t) => {
    const python = "/usr/bin/python3";
    const script = "import sys\nfrom prometheus_client.parser import text_string_to_metric_families as p\nprint(sorted(f.name for f in p(sys.stdin.read()) if f.name.startswith('jobexec')))";
    if (!existsSync(python) || !(await run(python, ["-c", "import prometheus_client"]).then(() => true, () => false))) {
      return t.skip("python3-prometheus-client is not installed (apt-get install python3-prometheus-client)");
    }
    const { text } = await scrape(metricsUrl);
    const child = execFile(python, ["-c", script]);
    child.stdin?.end(text);
    const out = await new Promise<string>((resolve, reject) => {
      let stdout = "";
      child.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
      child.once("exit", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`python exited ${code}`))));
    });
    for (const family of ["jobexec_jobs_queued", "jobexec_reserved", "jobexec_capacity", "jobexec_queue_admissions", "jobexec_queue_wait_seconds", "jobexec_jobs_started", "jobexec_jobs_started_by_path", "jobexec_standbys", "jobexec_standby_pool_size", "jobexec_job_start_seconds", "jobexec_rpcs", "jobexec_rpc_duration_seconds", "jobexec_jobs", "jobexec_jobs_running", "jobexec_output_streamed_bytes", "jobexec_open_connections", "jobexec_open_streams"]) {
      assert.ok(out.includes(`'${family}'`), `${family} in ${out}`);
    }
  });

  test("only /metrics, only on the metrics address; the API port serves no metrics", async () => {
    const other = await fetch(metricsUrl.replace(/\/metrics$/, "/jobexec.v1.JobService/ListJobs"), { method: "POST" });
    assert.equal(other.status, 404);
    await other.arrayBuffer();
    const post = await fetch(metricsUrl, { method: "POST" });
    assert.equal(post.status, 405);
    await post.arrayBuffer();
    // The API port is HTTPS with client certificates: a plain HTTP request there gets no metrics.
    const plain = await fetch(server.url.replace("https:", "http:") + "/metrics").then((r) => r.status, (e: Error) => e.message);
    assert.notEqual(plain, 200);
  });
});

describe("metrics options of jobexec-server", { timeout: 120_000 }, () => {
  test("off by default: nothing listens for metrics", async () => {
    const server = await startServerProcess();
    try {
      assert.ok(!server.logs.some((l) => l.msg === "metrics listening"));
    } finally {
      await server.stop();
    }
  });

  test("--standby 0: a pool of size 0, no standby, every start counted cold", async () => {
    const server = await startServerProcess(["--metrics-listen", "127.0.0.1:0", "--standby", "0"]);
    try {
      const url = String((await server.logged("metrics listening")).url);
      const job = (await client(server).startJob({ program: "true" })).job;
      assert.ok(job);
      const { samples } = await scrape(url);
      assert.equal(value(samples, "jobexec_standby_pool_size"), 0);
      assert.equal(value(samples, "jobexec_standbys"), 0);
      assert.deepEqual(
        ["standby", "cold"].map((path) => value(samples, "jobexec_jobs_started_by_path_total", { path })),
        [0, 1],
      );
    } finally {
      await server.stop();
    }
  });

  test("--metrics-owner-labels labels job metrics with the owner", async () => {
    const server = await startServerProcess(["--metrics-listen", "127.0.0.1:0", "--metrics-owner-labels"]);
    try {
      const url = String((await server.logged("metrics listening")).url);
      await client(server).startJob({ program: "true" });
      const { samples } = await scrape(url);
      assert.equal(value(samples, "jobexec_jobs_started_total", { outcome: "started", owner: "tester" }), 1);
      assert.ok(samples.some((s) => s.name === "jobexec_jobs" && s.labels.owner === "tester"));
    } finally {
      await server.stop();
    }
  });

  test("ended jobs' usage totals per owner with --metrics-owner-labels; GetJob's timeline only on request", async () => {
    const server = await startServerProcess(["--metrics-listen", "127.0.0.1:0", "--metrics-owner-labels", "--usage-sample-interval", "100ms"]);
    try {
      const url = String((await server.logged("metrics listening")).url);
      const jobs = client(server);
      const job = (await jobs.startJob({ program: jobNode, args: [slowPath, "1", "--spin", "1"] })).job;
      assert.ok(job);
      await readOutput(jobs.streamOutput({ id: job.id, follow: true }));
      const { job: ended } = await jobs.getJob({ id: job.id, includeTimeline: true });
      assert.ok((ended?.timeline?.samples.length ?? 0) >= 3, String(ended?.timeline?.samples.length));
      assert.equal(ended?.timeline?.interval?.nanos, 100_000_000);
      // The job spins for 1 s of wall time: how much CPU it gets depends on the host's load, so only "some".
      assert.ok(ended?.timeline?.samples.some((s) => (s.cpu ?? 0) > 0));
      assert.equal((await jobs.getJob({ id: job.id })).job?.timeline, undefined);
      assert.ok((await jobs.listJobs({})).jobs.every((j) => j.timeline === undefined));
      const { samples } = await scrape(url);
      assert.equal(value(samples, "jobexec_job_usage_ended_total", { owner: "tester" }), 1);
      const cpu = value(samples, "jobexec_job_cpu_seconds_total", { owner: "tester" });
      assert.ok(cpu > 0 && cpu === Number(ended?.usage?.cpuUsageUsec) / 1e6, `${cpu} ${ended?.usage?.cpuUsageUsec}`);
      if (ended?.usage?.cpuPressure !== undefined) {
        assert.equal(value(samples, "jobexec_job_pressure_stall_seconds_total", { owner: "tester", resource: "cpu", kind: "some" }), Number(ended.usage.cpuPressure.someTotalUsec) / 1e6);
      }
    } finally {
      await server.stop();
    }
  });

  test("a metrics address in use fails the start with one sentence", async () => {
    const first = await startServerProcess(["--metrics-listen", "127.0.0.1:0"]);
    try {
      const taken = new URL(String((await first.logged("metrics listening")).url)).port;
      const second = await startServerProcess(["--metrics-listen", `127.0.0.1:${taken}`]).then(() => assert.fail("must not start"), (e: Error) => e.message);
      assert.match(second, new RegExp(`jobexec-server: cannot serve metrics on 127\\.0\\.0\\.1:${taken}: the address is in use`));
    } finally {
      await first.stop();
    }
  });
});

describe("the metrics port cannot take the API's descriptors", { timeout: 180_000 }, () => {
  /** A TCP connection to `port`, resolved once it is connected or has failed. */
  const connectTo = (port: number): Promise<Socket> =>
    new Promise((resolve) => {
      const socket = netConnect(port, "127.0.0.1");
      socket.on("error", () => undefined);
      socket.once("connect", () => resolve(socket));
      socket.once("close", () => resolve(socket));
    });

  test("1000 connections to the metrics port under a 256-descriptor limit: a few are kept, the rest closed; an admin still starts a job", async () => {
    const s = await startProcess({ wrap: ["prlimit", "--nofile=256:256", "--"], args: ["--metrics-listen", "127.0.0.1:0"] });
    const sockets: Socket[] = [];
    try {
      const url = String((await s.waitForLog((l) => l.msg === "metrics listening")).url);
      const limits = await s.waitForLog((l) => l.msg === "limits");
      const cap = Number(limits.metricsMaxConnections);
      assert.equal(cap, METRICS_MAX_CONNECTIONS, "64 descriptors reserved (a quarter of 256): an eighth of them, the cap");
      // What a job can do from the host's loopback: 1000 connections, in waves of 100, all held open.
      for (let wave = 0; wave < 10; wave++) sockets.push(...(await Promise.all(Array.from({ length: 100 }, () => connectTo(Number(new URL(url).port))))));
      const open = (): Socket[] => sockets.filter((socket) => !socket.closed);
      await waitFor(() => (open().length <= cap ? true : undefined), 60_000, `the metrics endpoint to close all but ${cap} connections`);
      const dropped = await s.waitForLog((l) => l.msg === "metrics connections refused: the metrics endpoint has as many connections open as it takes");
      assert.equal(dropped.limit, cap);
      assert.ok(s.openFds() < 256 - 64, `the server has ${s.openFds()} descriptors open`);
      // The API is untouched: an admin and a client are served, and the admin's job runs.
      const admin = s.connection(s.pki.admin);
      const { job } = await admin.jobs.startJob({ program: "sh", args: ["-c", "echo started"] });
      assert.ok(job);
      assert.equal((await readOutput(admin.jobs.streamOutput({ id: job.id, follow: true }))).stdout.toString(), "started\n");
      const alice = s.connection(s.pki.alice);
      assert.ok(await alice.health.check({}));
      console.log(`# 1000 connections to the metrics port: ${open().length} kept open (cap ${cap}); server fds ${s.openFds()} of 256; the admin's job ran`);
      admin.close();
      alice.close();
      // Once the job's connections are gone, a scrape gets through again.
      for (const socket of sockets) socket.destroy();
      let scraped: string | undefined;
      for (let i = 0; i < 100 && scraped === undefined; i++) {
        scraped = await fetch(url).then((r) => (r.status === 200 ? r.text() : undefined), () => undefined);
        if (scraped === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.match(scraped ?? "no scrape succeeded", /jobexec_open_connections/);
      assert.deepEqual(s.stderr.filter((line) => /EMFILE|ENFILE/.test(line)), []);
    } finally {
      for (const socket of sockets) socket.destroy();
      await s.stop();
    }
  });
});
