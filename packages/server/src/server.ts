import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import { type AccountOptions, type IsolationSpec, JobError, JobManager, type ManagerOptions, type QueueOptions } from "@jobexec/core";
import { Health, JobService, reflectionV1, reflectionV1alpha, StreamOutputResponseSchema } from "@jobexec/proto";
import { DEFAULT_MAX_JOBS_ADMIN, DEFAULT_MAX_JOBS_PER_USER, DEFAULT_PORT, DEFAULT_STANDBY } from "./settings/config.ts";
import { DescriptorIndex } from "./api/descriptor-index.ts";
import { ServerError } from "./error.ts";
import { guard } from "./api/guard.ts";
import { healthService } from "./api/health-service.ts";
import { connectionBudget } from "./network/connection-limits.ts";
import { watchConnections } from "./network/connections.ts";
import { openFileLimit } from "./network/fd-limit.ts";
import { peerKey, peerOfRequest } from "./network/identity.ts";
import { withJobMetrics } from "./metrics/job-metrics.ts";
import { jobService } from "./api/job-service.ts";
import { streamOutputFrames } from "./api/output-frame.ts";
import { defaultLimits, type ServerLimits } from "./settings/limits.ts";
import { hostPort, listenOn } from "./network/listen.ts";
import { createLogger, type Logger } from "./log.ts";
import { serveMetrics } from "./metrics/metrics-endpoint.ts";
import { ServerMetrics } from "./metrics/metrics.ts";
import { reflectionService, reflectionServiceV1alpha } from "./api/reflection-service.ts";
import { requestHandler } from "./api/request-handler.ts";
import { StreamQuota } from "./api/stream-quota.ts";
import { checkServerTls, secureServerOptions, type ServerTls } from "./network/tls.ts";
import { unknownMethod } from "./api/unknown-method.ts";

/**
 * Everything {@link startServer} needs. The durability settings (stateFile, maxOutputBytes, maxTimeoutMs, retainMs,
 * outputBudgetBytes, outputBudgetPerUserBytes, maxRecordsPerUser, maxRecordBytesPerUser, minFreeBytes) are the job
 * manager's, with its defaults.
 */
export interface ServerConfig extends Pick<ManagerOptions, "stateFile" | "maxOutputBytes" | "maxTimeoutMs" | "retainMs" | "outputBudgetBytes" | "outputBudgetPerUserBytes" | "maxRecordsPerUser" | "maxRecordBytesPerUser" | "minFreeBytes"> {
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** Port; default 50051, 0 picks a free one. */
  port?: number;
  /** Certificate, key and client CA, PEM. */
  tls: ServerTls;
  /** Where the file each TLS item came from, for error messages. */
  tlsSources?: { cert: string; key: string; clientCa: string };
  /** Job records and output. */
  dataDir: string;
  /** cgroup (relative to the server's cgroup v2 root) under which jobs' cgroups are made; default "jobexec". */
  cgroupParent?: string;
  /** StopJob's grace period when the request sets none; default 5000 ms. */
  defaultGraceMs?: number;
  /** Default: info-level JSON lines on stderr. */
  log?: Logger;
  /** What close() does with running jobs: stop them (default), or keep them running for the next server to adopt. */
  onShutdown?: "stop" | "keep";
  /** Which accounts jobs run as; default a dynamic uid per identity (core's default). */
  accounts?: AccountOptions;
  /** Running jobs per identity: `perUser` (default 64) for users, `admin` (default 1024) for admins. */
  maxJobs?: { perUser?: number; admin?: number };
  /** The queue's capacities and bounds (core's ManagerOptions.queue; messages name the server's flags). */
  queue?: Omit<QueueOptions, "names">;
  /** Standbys kept ready per output mode in use (core's ManagerOptions.standby); default 2, 0 for none. */
  standby?: number;
  /** How often running jobs' usage is sampled for their timelines (core's ManagerOptions.usageSampleMs); 0: never. */
  usageSampleMs?: number;
  /** Isolation for the fields a StartJob request leaves unset (core's ManagerOptions.defaultIsolation); default none. */
  defaultIsolation?: IsolationSpec;
  /** Connection, stream and request limits; each one not given takes its default (limits.ts). */
  limits?: Partial<ServerLimits>;
  /** Serve Prometheus metrics at http://HOST:PORT/metrics (port 0: any free port); owners as labels if asked. */
  metrics?: { host: string; port: number; ownerLabels?: boolean };
}

/** The flags behind the queue's settings, named in its messages. */
const QUEUE_FLAGS: QueueOptions["names"] = {
  maxRunning: "--max-running",
  memoryCapacityBytes: "--memory-capacity",
  cpuCapacity: "--cpu-capacity",
  maxQueuedPerUser: "--max-queued-per-user",
  maxQueued: "--max-queued",
  weights: "--queue-weight",
};

/** A listening server. */
export interface RunningServer {
  /** Base URL for clients, e.g. https://127.0.0.1:50051. */
  url: string;
  host: string;
  port: number;
  manager: JobManager;
  /** Where the metrics are served, when they are. */
  metricsUrl?: string;
  /**
   * Stops accepting connections, ends open calls with UNAVAILABLE "server shutting down", stops every running job
   * (grace period, then kill; recorded as stopped by the server's shutdown) and removes their cgroups, or with
   * onShutdown "keep" leaves them running; records and output stay. Idempotent.
   */
  close(): Promise<void>;
}

// How long closing waits for clients to read their final statuses before cutting connections.
const DRAIN_MS = 2000;

type Listener = ReturnType<typeof requestHandler>;

/**
 * Starts the JobService, the gRPC health service and server reflection over HTTP/2 with mutual TLS. The metrics
 * address and the listening socket are bound before the job manager is created, so a taken port fails start-up
 * before anything on the host is touched; calls arriving meanwhile wait for the manager.
 */
export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const log = config.log ?? createLogger();
  const host = config.host ?? "127.0.0.1";
  const port = config.port ?? DEFAULT_PORT;
  checkServerTls(config.tls, config.tlsSources ?? { cert: "(server certificate)", key: "(server key)", clientCa: "(client CA)" });
  const limits: ServerLimits = { ...defaultLimits, ...config.limits };
  const fileLimit = openFileLimit();
  const budget = connectionBudget(limits.maxConnections, limits.fdReserve, fileLimit);
  const metrics = config.metrics && new ServerMetrics({ ownerLabels: config.metrics.ownerLabels });
  const endpoint = metrics && (await serveMetrics(metrics.registry, config.metrics?.host ?? "127.0.0.1", config.metrics?.port ?? 0, log, { maxConnections: budget.metricsConnections }));
  // Set once the manager exists; until then calls wait for `ready`.
  let handle: Listener | undefined = undefined;
  const ready = Promise.withResolvers<Listener>();
  ready.promise.catch(() => undefined);
  const server = http2.createSecureServer(
    {
      ...secureServerOptions(config.tls),
      handshakeTimeout: limits.handshakeTimeoutMs,
      settings: { maxConcurrentStreams: limits.maxStreamsPerConnection },
      // Room for many streams' output in flight on one connection (the default is 10 MiB).
      maxSessionMemory: 256,
    },
    (req, res) => {
      if (handle !== undefined) handle(req, res);
      // (A failed start-up closes every socket, and with them the calls waiting here.)
      else void ready.promise.then((h) => h(req, res), () => undefined);
    },
  );
  const connections = watchConnections(server, limits, budget, log);
  metrics?.watch(server);
  try {
    await listenOn(server, host, port, "listen");
  } catch (error) {
    await endpoint?.close();
    throw error;
  }
  // After listening, an error (e.g. accept failing) is logged; the server keeps serving.
  server.on("error", (err) => log.error("server error", { error: err }));
  let manager: JobManager;
  try {
    manager = await JobManager.create({
      dataDir: config.dataDir,
      cgroupParent: config.cgroupParent ?? "jobexec",
      defaultGraceMs: config.defaultGraceMs ?? 5000,
      log: ({ level, message, ...fields }) => log[level](message, fields),
      ...(config.accounts === undefined ? {} : { accounts: config.accounts }),
      standby: config.standby ?? DEFAULT_STANDBY,
      ...(config.usageSampleMs === undefined ? {} : { usageSampleMs: config.usageSampleMs }),
      stateFile: config.stateFile,
      maxOutputBytes: config.maxOutputBytes,
      maxTimeoutMs: config.maxTimeoutMs,
      retainMs: config.retainMs,
      outputBudgetBytes: config.outputBudgetBytes,
      outputBudgetPerUserBytes: config.outputBudgetPerUserBytes,
      maxRecordsPerUser: config.maxRecordsPerUser,
      maxRecordBytesPerUser: config.maxRecordBytesPerUser,
      minFreeBytes: config.minFreeBytes,
      onClose: config.onShutdown ?? "stop",
      queue: { ...config.queue, names: QUEUE_FLAGS },
      ...(config.defaultIsolation === undefined ? {} : { defaultIsolation: config.defaultIsolation }),
    });
  } catch (cause) {
    ready.reject(cause);
    const closed = new Promise((resolve) => server.close(resolve));
    for (const socket of connections.sockets) socket.destroy();
    await closed;
    await endpoint?.close();
    // Settings core refuses (a user map, a uid range, a data directory jobs cannot reach) are the operator's to fix.
    if (cause instanceof JobError && cause.code === "invalid_argument") throw new ServerError("usage", cause.message, { cause });
    throw cause;
  }
  const shutdown = new AbortController();
  const maxJobs = { perUser: config.maxJobs?.perUser ?? DEFAULT_MAX_JOBS_PER_USER, admin: config.maxJobs?.admin ?? DEFAULT_MAX_JOBS_ADMIN };
  // One quota for every streaming method: StreamOutput and Health/Watch calls count together.
  const streams = new StreamQuota(limits.maxStreamsPerIdentity);
  metrics?.countJobs(manager);
  metrics?.countStandbys(manager);
  metrics?.countQueue(manager);
  metrics?.countUsage(manager);
  const guarded = { streams, ended: metrics?.rpcEnded };
  const served = [JobService, Health, reflectionV1.ServerReflection, reflectionV1alpha.ServerReflection];
  const index = new DescriptorIndex(served);
  const jobs = jobService(manager, maxJobs, limits);
  handle = requestHandler({
    services: [
      [JobService, guard(JobService, metrics ? withJobMetrics(jobs, metrics) : jobs, log, guarded)],
      [Health, guard(Health, healthService(), log, guarded)],
      [reflectionV1.ServerReflection, guard(reflectionV1.ServerReflection, reflectionService(index), log, guarded)],
      [reflectionV1alpha.ServerReflection, guard(reflectionV1alpha.ServerReflection, reflectionServiceV1alpha(index), log, guarded)],
    ],
    fallback: unknownMethod(served),
    contextValues: (req) => createContextValues().set(peerKey, peerOfRequest(req)),
    readMaxBytes: limits.maxRequestBytes,
    shutdownSignal: shutdown.signal,
    log,
    frameEncoders: new Map([[StreamOutputResponseSchema.typeName, streamOutputFrames]]),
  });
  ready.resolve(handle);
  const bound = (server.address() as AddressInfo).port;
  const url = `https://${hostPort(host, bound)}`;
  const cgroups = manager.cgroups;
  log.info("listening", { address: hostPort(host, bound), url, dataDir: config.dataDir, runAs: config.accounts?.runAs ?? "dynamic", maxJobs, standby: config.standby ?? DEFAULT_STANDBY, defaultIsolation: config.defaultIsolation ?? {} });
  log.info("cgroups", { mode: cgroups.mode, root: cgroups.root ?? null, parent: cgroups.parent ?? null, controllers: cgroups.controllers });
  log.info("limits", { ...limits, maxConnections: budget.maxConnections, openFileLimit: fileLimit ?? null, fdReserve: budget.reserve, ...(endpoint ? { metricsMaxConnections: budget.metricsConnections } : {}) });
  if (budget.loweredFrom !== undefined) {
    log.warn("max connections lowered to fit the open-file limit", {
      configured: budget.loweredFrom,
      maxConnections: budget.maxConnections,
      openFileLimit: fileLimit ?? null,
      fdReserve: budget.reserve,
    });
  }

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    const { sessions, sockets } = connections;
    log.info("shutting down", { sessions: sessions.size });
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    shutdown.abort(new ConnectError("server shutting down", Code.Unavailable));
    for (const session of sessions) session.close();
    try {
      await manager.close();
    } catch (err) {
      log.error("stopping jobs failed", { error: err });
    }
    const drained = Promise.all([...sessions].filter((s) => !s.destroyed).map((s) => new Promise((resolve) => s.once("close", resolve))));
    await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, DRAIN_MS).unref())]);
    for (const socket of sockets) socket.destroy();
    await serverClosed;
    await endpoint?.close();
    log.info("stopped");
  }
  return { url, host, port: bound, manager, metricsUrl: endpoint?.url, close: () => (closing ??= close()) };
}

