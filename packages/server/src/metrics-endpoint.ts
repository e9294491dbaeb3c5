import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { hostPort, listenOn } from "./listen.ts";
import type { Logger } from "./log.ts";

/** A listening metrics endpoint. */
export interface MetricsEndpoint {
  /** e.g. http://127.0.0.1:9464/metrics */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `registry` at GET /metrics in the Prometheus text format, over plain HTTP on `host:port` only (the jobexec
 * API stays on its own mTLS port). Meant for a loopback or management address that the scraper reaches.
 */
export async function serveMetrics(registry: Registry, host: string, port: number, log: Logger): Promise<MetricsEndpoint> {
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
  // A scraper keeps its connection; nothing else lingers.
  server.keepAliveTimeout = 60_000;
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
