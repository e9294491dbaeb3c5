import type { Http2SecureServer } from "node:http2";
import type { DescMethod } from "@bufbuild/protobuf";
import type { Code } from "@connectrpc/connect";
import type { JobManager, JobState, StreamName, UsageTotals } from "@jobexec/core";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { codeName, type CallEnded } from "../api/guard.ts";

/**
 * How a StartJob ended: the program runs, it could not be started (a FAILED job), it was queued, or the request was
 * refused.
 */
export type StartOutcome = "started" | "failed" | "queued" | "refused";

const states: JobState[] = ["queued", "running", "exited", "stopped", "failed"];
// Seconds a job waited in the queue: none to days.
const waitBuckets = [0.01, 0.1, 1, 10, 60, 300, 1800, 3600, 4 * 3600, 24 * 3600];

// Seconds. Starts take milliseconds; RPCs from under a millisecond (GetJob) to hours (a followed StreamOutput).
const startBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const rpcBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600, 3600];

/**
 * The server's Prometheus metrics, in a registry of their own (prom-client). Labels are bounded: methods and codes
 * come from the services' descriptors, states and outcomes are fixed sets, job ids are never labels, and owners
 * only when `ownerLabels` is set (as many values as users).
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #ownerLabels: boolean;
  readonly #started: Counter<"outcome" | "owner">;
  readonly #startSeconds: Histogram;
  readonly #rpcs: Counter<"service" | "method" | "code">;
  readonly #rpcSeconds: Histogram<"service" | "method">;
  readonly #outputBytes: Counter<"stream">;
  readonly #connections: Gauge;
  readonly #streams: Gauge;

  constructor(options: { ownerLabels?: boolean } = {}) {
    this.#ownerLabels = options.ownerLabels ?? false;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#started = new Counter({ name: "jobexec_jobs_started_total", help: "StartJob calls by outcome: started (the program runs), failed (it could not be executed: a FAILED job), queued (it waits for its turn), refused (the request was refused).", labelNames: this.#labels(["outcome"]), registers });
    this.#startSeconds = new Histogram({ name: "jobexec_job_start_seconds", help: "Time from a StartJob request to the job's program running.", buckets: startBuckets, registers });
    this.#rpcs = new Counter({ name: "jobexec_rpcs_total", help: "RPCs handled, by method and result code (ok, not_found, ...).", labelNames: ["service", "method", "code"], registers });
    this.#rpcSeconds = new Histogram({ name: "jobexec_rpc_duration_seconds", help: "Time from an RPC's start to its end (streams: until the last message).", labelNames: ["service", "method"], buckets: rpcBuckets, registers });
    this.#outputBytes = new Counter({ name: "jobexec_output_streamed_bytes_total", help: "Job output bytes sent to StreamOutput callers, by stream.", labelNames: ["stream"], registers });
    this.#connections = new Gauge({ name: "jobexec_open_connections", help: "TLS connections open now.", registers });
    this.#streams = new Gauge({ name: "jobexec_open_streams", help: "Requests in progress now: HTTP/2 streams and HTTP/1.1 requests.", registers });
  }

  /** Adds the gauges of the manager's jobs, read from it at each scrape: running jobs, and jobs by state. */
  countJobs(manager: JobManager): void {
    const registers = [this.registry];
    const owners = this.#ownerLabels;
    const ownerOf = (job: { owner: string }): Record<string, string> => (owners ? { owner: job.owner } : {});
    new Gauge({
      name: "jobexec_jobs_running",
      help: "Jobs running now.",
      labelNames: this.#labels([]),
      registers,
      async collect() {
        this.reset();
        const running = await manager.list({ states: ["running"] });
        if (running.length === 0 || !owners) this.set(running.length);
        else for (const job of running) this.inc(ownerOf(job));
      },
    });
    new Gauge({
      name: "jobexec_jobs",
      help: "Jobs the server holds, by state.",
      labelNames: this.#labels(["state"]),
      registers,
      async collect() {
        this.reset();
        for (const state of states) this.set({ state }, 0);
        for (const job of await manager.list()) this.inc({ state: job.state, ...ownerOf(job) });
      },
    });
  }

  /**
   * Adds the standby pool's metrics, read from the manager at each scrape: standbys ready and booting, the pool's
   * size now, and jobs started from a standby or cold (counters: the manager's counts only grow).
   */
  countStandbys(manager: JobManager): void {
    const registers = [this.registry];
    new Gauge({
      name: "jobexec_standbys",
      help: "Standbys (cgexec processes started ahead of jobs) now, by state: ready (waiting for a job) or booting.",
      labelNames: ["state"],
      registers,
      collect() {
        const { idle, starting } = manager.standbys;
        this.set({ state: "ready" }, idle);
        this.set({ state: "booting" }, starting);
      },
    });
    new Gauge({
      name: "jobexec_standby_pool_size",
      help: "Standbys the pool keeps now: --standby for each output mode in use (0 when the pool is off).",
      registers,
      collect() {
        this.set(manager.standbys.target);
      },
    });
    new Counter({
      name: "jobexec_jobs_started_by_path_total",
      help: "Jobs whose process was started from a standby (path standby) or by a fresh cgexec (path cold: the pool was off or had none ready).",
      labelNames: ["path"],
      registers,
      collect() {
        const { warmStarts, coldStarts } = manager.standbys;
        this.reset();
        this.inc({ path: "standby" }, warmStarts);
        this.inc({ path: "cold" }, coldStarts);
      },
    });
  }

  /**
   * Adds the queue's metrics: queued jobs (waiting for capacity, or held by a dependency or a start time) and the
   * reservations of running jobs against the capacities, read at each scrape; admissions from the queue and the time
   * each job waited, from the manager's changes as they happen.
   */
  countQueue(manager: JobManager): void {
    const registers = [this.registry];
    new Gauge({
      name: "jobexec_jobs_queued",
      help: "Queued jobs now, by what holds them: capacity (their turn, a slot, memory or CPU) or held (a dependency or a start time).",
      labelNames: ["waiting_for"],
      registers,
      collect() {
        const { queued, held } = manager.queueFigures;
        this.set({ waiting_for: "capacity" }, queued);
        this.set({ waiting_for: "held" }, held);
      },
    });
    new Gauge({
      name: "jobexec_reserved",
      help: "What running jobs' limits reserve now: memory (bytes), CPUs, and running jobs.",
      labelNames: ["resource"],
      registers,
      collect() {
        const { reservedMemoryBytes, reservedCpus, running } = manager.queueFigures;
        this.set({ resource: "memory_bytes" }, reservedMemoryBytes);
        this.set({ resource: "cpus" }, reservedCpus);
        this.set({ resource: "running_jobs" }, running);
      },
    });
    new Gauge({
      name: "jobexec_capacity",
      help: "The capacities admission works with: --memory-capacity (bytes), --cpu-capacity, --max-running (absent when unlimited).",
      labelNames: ["resource"],
      registers,
      collect() {
        const { capacity } = manager.queueFigures;
        this.set({ resource: "memory_bytes" }, capacity.memoryBytes);
        this.set({ resource: "cpus" }, capacity.cpus);
        if (Number.isFinite(capacity.maxRunning)) this.set({ resource: "running_jobs" }, capacity.maxRunning);
      },
    });
    const admissions = new Counter({ name: "jobexec_queue_admissions_total", help: "Queued jobs started when their turn came.", registers });
    const waited = new Histogram({ name: "jobexec_queue_wait_seconds", help: "Time a job waited in the queue, from its StartJob to its start.", buckets: waitBuckets, registers });
    manager.watch(undefined, (change) => {
      if (change.kind !== "started" || change.job.startedAt === undefined) return;
      admissions.inc();
      waited.observe((change.job.startedAt.getTime() - change.job.createdAt.getTime()) / 1000);
    });
  }

  /**
   * Adds counters of the usage of ended jobs (exited or stopped since the server started), read from the manager at
   * each scrape: CPU and throttled time, memory events, pressure stall time; per owner only with owner labels. No
   * series is per job.
   */
  countUsage(manager: JobManager): void {
    const registers = [this.registry];
    const owners = this.#ownerLabels;
    // Without owner labels, one series: the owners' totals summed.
    const each = (add: (totals: UsageTotals, labels: Record<string, string>) => void): void => {
      for (const [owner, totals] of manager.usageTotals) add(totals, owners ? { owner } : {});
    };
    const counter = (name: string, help: string, labelNames: string[], collect: (c: Counter) => void): void => {
      new Counter({
        name,
        help,
        labelNames: this.#labels(labelNames),
        registers,
        collect() {
          this.reset();
          collect(this);
        },
      });
    };
    counter("jobexec_job_usage_ended_total", "Jobs whose final usage the totals below hold: those that exited or were stopped.", [], (c) => each((t, l) => c.inc(l, t.jobs)));
    counter("jobexec_job_cpu_seconds_total", "CPU time of ended jobs (cpu.stat usage_usec).", [], (c) => each((t, l) => c.inc(l, t.cpuUsec / 1e6)));
    counter("jobexec_job_cpu_throttled_seconds_total", "Time ended jobs were throttled by their CPU limits (cpu.stat throttled_usec).", [], (c) => each((t, l) => c.inc(l, t.cpuThrottledUsec / 1e6)));
    counter("jobexec_job_memory_events_total", "memory.events of ended jobs: oom (the OOM killer invoked), oom_kill (processes it killed), high, max.", ["event"], (c) =>
      each((t, l) => {
        c.inc({ ...l, event: "oom" }, t.oom);
        c.inc({ ...l, event: "oom_kill" }, t.oomKill);
        c.inc({ ...l, event: "high" }, t.memoryHigh);
        c.inc({ ...l, event: "max" }, t.memoryMax);
      }),
    );
    counter("jobexec_job_pressure_stall_seconds_total", "Pressure stall time of ended jobs, by resource (cpu, memory, io) and kind (some: a task waited; full: all did).", ["resource", "kind"], (c) =>
      each((t, l) => {
        for (const resource of ["cpu", "memory", "io"] as const) {
          c.inc({ ...l, resource, kind: "some" }, t.stallUsec[resource].some / 1e6);
          c.inc({ ...l, resource, kind: "full" }, t.stallUsec[resource].full / 1e6);
        }
      }),
    );
  }

  /** For the guard: counts and times every call as it ends. */
  readonly rpcEnded: CallEnded = (method: DescMethod, code: Code | undefined, ms: number) => {
    const labels = { service: method.parent.typeName, method: method.name };
    this.#rpcs.inc({ ...labels, code: code === undefined ? "ok" : codeName(code) });
    this.#rpcSeconds.observe(labels, ms / 1000);
  };

  /** Records a StartJob: its outcome and, for a started job, how long until its program ran. */
  jobStarted(outcome: StartOutcome, owner: string, seconds?: number): void {
    this.#started.inc({ outcome, ...this.#owner(owner) });
    if (outcome === "started" && seconds !== undefined) this.#startSeconds.observe(seconds);
  }

  /** Records output bytes sent to a StreamOutput caller. */
  outputStreamed(stream: StreamName, bytes: number): void {
    this.#outputBytes.inc({ stream }, bytes);
  }

  /** Counts the server's open connections and requests. */
  watch(server: Http2SecureServer): void {
    server.on("secureConnection", (socket: { once(event: "close", listener: () => void): unknown }) => {
      this.#connections.inc();
      socket.once("close", () => this.#connections.dec());
    });
    server.on("request", (_req, res: { once(event: "close", listener: () => void): unknown }) => {
      this.#streams.inc();
      res.once("close", () => this.#streams.dec());
    });
  }

  #owner(owner: string): Record<string, string> {
    return this.#ownerLabels ? { owner } : {};
  }

  #labels(names: string[]): string[] {
    return this.#ownerLabels ? [...names, "owner"] : names;
  }
}
