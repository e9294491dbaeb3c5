import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { type AccountOptions, JobError, JobManager, type ManagerOptions } from "@jobexec/core";
import { Health, JobService } from "@jobexec/proto";
import { DEFAULT_MAX_JOBS_ADMIN, DEFAULT_MAX_JOBS_PER_USER, DEFAULT_PORT } from "./config.ts";
import { ServerError } from "./error.ts";
import { guard } from "./guard.ts";
import { healthService } from "./health-service.ts";
import { peerKey, peerOf, peerOfRequest } from "./identity.ts";
import { jobService } from "./job-service.ts";
import { createLogger, type Logger } from "./log.ts";
import { checkServerTls, secureServerOptions, type ServerTls } from "./tls.ts";

/**
 * Everything {@link startServer} needs. The durability settings (stateFile, maxOutputBytes, maxTimeoutMs, retainMs,
 * outputBudgetBytes, minFreeBytes) are the job manager's, with its defaults.
 */
export interface ServerConfig extends Pick<ManagerOptions, "stateFile" | "maxOutputBytes" | "maxTimeoutMs" | "retainMs" | "outputBudgetBytes" | "minFreeBytes"> {
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
  /** Largest request message accepted; default 1 MiB. */
  readMaxBytes?: number;
  /** What close() does with running jobs: stop them (default), or keep them running for the next server to adopt. */
  onShutdown?: "stop" | "keep";
  /** Which accounts jobs run as; default a dynamic uid per identity (core's default). */
  accounts?: AccountOptions;
  /** Running jobs per identity: `perUser` (default 64) for users, `admin` (default 1024) for admins. */
  maxJobs?: { perUser?: number; admin?: number };
}

/** A listening server. */
export interface RunningServer {
  /** Base URL for clients, e.g. https://127.0.0.1:50051. */
  url: string;
  host: string;
  port: number;
  manager: JobManager;
  /**
   * Stops accepting connections, ends open calls with UNAVAILABLE "server shutting down", stops every running job
   * (grace period, then kill; recorded as stopped by the server's shutdown) and removes their cgroups, or with
   * onShutdown "keep" leaves them running; records and output stay. Idempotent.
   */
  close(): Promise<void>;
}

/** Default largest request message. */
export const DEFAULT_READ_MAX_BYTES = 1024 * 1024;
// How long closing waits for clients to read their final statuses before cutting connections.
const DRAIN_MS = 2000;

/** Starts the JobService and the gRPC health service over HTTP/2 with mutual TLS. */
export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const log = config.log ?? createLogger();
  const host = config.host ?? "127.0.0.1";
  checkServerTls(config.tls, config.tlsSources ?? { cert: "(server certificate)", key: "(server key)", clientCa: "(client CA)" });
  let manager: JobManager;
  try {
    manager = await JobManager.create({
      dataDir: config.dataDir,
      cgroupParent: config.cgroupParent ?? "jobexec",
      defaultGraceMs: config.defaultGraceMs ?? 5000,
      log: ({ level, message, ...fields }) => log[level](message, fields),
      ...(config.accounts === undefined ? {} : { accounts: config.accounts }),
      stateFile: config.stateFile,
      maxOutputBytes: config.maxOutputBytes,
      maxTimeoutMs: config.maxTimeoutMs,
      retainMs: config.retainMs,
      outputBudgetBytes: config.outputBudgetBytes,
      minFreeBytes: config.minFreeBytes,
      onClose: config.onShutdown ?? "stop",
    });
  } catch (cause) {
    // Settings core refuses (a user map, a uid range, a data directory jobs cannot reach) are the operator's to fix.
    if (cause instanceof JobError && cause.code === "invalid_argument") throw new ServerError("usage", cause.message, { cause });
    throw cause;
  }
  const maxJobs = { perUser: config.maxJobs?.perUser ?? DEFAULT_MAX_JOBS_PER_USER, admin: config.maxJobs?.admin ?? DEFAULT_MAX_JOBS_ADMIN };
  const shutdown = new AbortController();
  const handler = connectNodeAdapter({
    routes(router) {
      router.service(JobService, guard(JobService, jobService(manager, maxJobs), log));
      router.service(Health, guard(Health, healthService(), log));
    },
    contextValues: (req) => createContextValues().set(peerKey, peerOfRequest(req)),
    readMaxBytes: config.readMaxBytes ?? DEFAULT_READ_MAX_BYTES,
    // No compression: output is streamed to many followers at once, and gzip per stream was most of the CPU time.
    acceptCompression: [],
    shutdownSignal: shutdown.signal,
  });
  const server = http2.createSecureServer(
    {
      ...secureServerOptions(config.tls),
      // Thousands of concurrent streams (e.g. followers of one job) on a single client connection.
      settings: { maxConcurrentStreams: 16384 },
      maxSessionMemory: 256,
    },
    handler,
  );

  const connections = new Set<TLSSocket>();
  server.on("secureConnection", (socket: TLSSocket) => {
    connections.add(socket);
    socket.once("close", () => connections.delete(socket));
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    const peer = peerOf(session, session.socket as TLSSocket);
    if ("refusal" in peer) {
      log.warn("client certificate refused", { remote: session.socket.remoteAddress, reason: peer.refusal });
      // Each request gets UNAUTHENTICATED with the reason; then the connection is closed.
      session.on("stream", (stream) => stream.once("close", () => session.close()));
    }
  });
  server.on("tlsClientError", (err, socket) => {
    // Node refuses an unverified client certificate by closing the socket after the handshake: the client sees
    // the connection close, and the reason is only in authorizationError (e.g. CERT_HAS_EXPIRED).
    const reason = socket.authorizationError;
    log.info("tls handshake failed", { remote: socket.remoteAddress ?? null, reason: reason ? String(reason) : null, error: err.message });
  });
  server.on("sessionError", (err) => log.debug("http2 session error", { error: err.message }));

  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.port ?? DEFAULT_PORT, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (cause) {
    await manager.close();
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === "EADDRINUSE" ? "the address is in use" : code === "EACCES" ? "permission denied" : (cause as Error).message;
    throw new ServerError("listen", `cannot listen on ${hostPort(host, config.port ?? DEFAULT_PORT)}: ${why}`, { cause });
  }
  const port = (server.address() as AddressInfo).port;
  const url = `https://${hostPort(host, port)}`;
  const cgroups = manager.cgroups;
  log.info("listening", { address: hostPort(host, port), url, dataDir: config.dataDir, runAs: config.accounts?.runAs ?? "dynamic", maxJobs });
  log.info("cgroups", { mode: cgroups.mode, root: cgroups.root ?? null, parent: cgroups.parent ?? null, controllers: cgroups.controllers });

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
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
    for (const socket of connections) socket.destroy();
    await serverClosed;
    log.info("stopped");
  }
  return { url, host, port, manager, close: () => (closing ??= close()) };
}

function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
