import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { hostPort, listenOn } from "../network/listen.ts";
import type { Logger } from "../log.ts";
import { ThrottledLog } from "../throttled-log.ts";

/** How long a metrics connection may stay without a byte either way; a scraper reconnects for its next scrape. */
export const METRICS_IDLE_TIMEOUT_MS = 60_000;
/** How long a request may take to arrive, headers and all (a scrape is one short GET). */
export const METRICS_REQUEST_TIMEOUT_MS = 10_000;

/** Options of {@link serveMetrics}. */
export interface MetricsEndpointOptions {
  /** Connections accepted at once; more are closed on accept (see connection-limits.ts). */
  maxConnections: number;
  /** Default {@link METRICS_IDLE_TIMEOUT_MS}. */
  idleTimeoutMs?: number;
}

/** A listening metrics endpoint. */
export interface MetricsEndpoint {
  /** e.g. http://127.0.0.1:9464/metrics */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `registry` at GET /metrics in the Prometheus text format, over plain HTTP on `host:port` only (the jobexec
 * API stays on its own mTLS port). Meant for a loopback or management address that the scraper reaches. Anyone who
 * reaches it may connect, so it is bounded on its own: `maxConnections` at once (more are closed on accept, logged
 * at most once per interval), each closed after the idle timeout without traffic, and requests that do not arrive
 * within {@link METRICS_REQUEST_TIMEOUT_MS} are answered 408 and closed.
 */
export async function serveMetrics(registry: Registry, host: string, port: number, log: Logger, options: MetricsEndpointOptions): Promise<MetricsEndpoint> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found: metrics are at /metrics\n");
    } else if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }).end("method not allowed: use GET\n");
    } else {
      registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": registry.contentType }).end(req.method === "HEAD" ? undefined : text),
        (error: unknown) => {
          log.error("metrics collection failed", { error });
          res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end("metrics collection failed; the server log has the details\n");
        },
      );
    }
  });
  const idleMs = options.idleTimeoutMs ?? METRICS_IDLE_TIMEOUT_MS;
  server.maxConnections = options.maxConnections;
  const dropped = new ThrottledLog(log, "warn", "metrics connections refused: the metrics endpoint has as many connections open as it takes");
  server.on("drop", (data?: { remoteAddress?: string }) => dropped.note({ remote: data?.remoteAddress ?? null, limit: options.maxConnections }));
  // A scraper may keep its connection between scrapes, up to the idle timeout; a silent socket is closed after it.
  server.keepAliveTimeout = idleMs;
  server.headersTimeout = METRICS_REQUEST_TIMEOUT_MS;
  server.requestTimeout = METRICS_REQUEST_TIMEOUT_MS;
  server.setTimeout(idleMs, (socket) => socket.destroy());
  await listenOn(server, host, port, "serve metrics");
  const bound = (server.address() as AddressInfo).port;
  const url = `http://${hostPort(host, bound)}/metrics`;
  log.info("metrics listening", { url });
  return {
    url,
    port: bound,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
