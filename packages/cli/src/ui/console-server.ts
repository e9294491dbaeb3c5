// The HTTP server of `jobexec ui`: the app's files, the exchange of the one-time code for the session token, the
// console's JobService (Connect protocol, forwarded method by method over the CLI's mTLS client) and download links.
// Every request passes the Host/Origin checks first; every call needs the session token; no response carries a CORS
// header, so no other origin can read one.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Client } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { JobService, OutputStream } from "@jobexec/proto";
import { jobIdPattern } from "../job-id.ts";
import { DownloadLinks, type DownloadTarget } from "./downloads.ts";
import { jobProxy } from "./job-proxy.ts";
import { allowedHosts, checkRequest, hostForUrl } from "./request-guard.ts";
import { Secrets } from "./secrets.ts";
import { loadStaticFiles, type StaticFile } from "./static-files.ts";

/** Options of {@link startConsole}. */
export interface ConsoleOptions {
  client: Client<typeof JobService>;
  readOnly: boolean;
  /** The built app: a directory with index.html and assets/. */
  webRoot: string;
  host: string;
  /** 0 for any free port. */
  port: number;
  /** A failure of the CLI's own connection as the sentence `jobexec` prints. */
  describe: (error: unknown) => Promise<string>;
}

/** A console that serves. */
export interface RunningConsole {
  /** The console's address, `http://HOST:PORT/`. */
  url: string;
  /** The address with the one-time code in its fragment: the one to open, once. */
  openUrl: string;
  close(): Promise<void>;
}

/** Sent with every response. */
const securityHeaders: Record<string, string> = {
  "Content-Security-Policy": "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "X-Content-Type-Options": "nosniff",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Cache-Control": "no-store",
};

const apiPrefix = "/api";
const maxBodyBytes = 4096;

function reply(res: ServerResponse, status: number, message = "", type = "text/plain; charset=utf-8"): void {
  res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(message) });
  res.end(message);
}

/** A small JSON body, or undefined when it is not one (wrong type, too big, malformed). */
async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  if (req.headers["content-type"]?.split(";")[0]?.trim() !== "application/json") return undefined;
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > maxBodyBytes) return undefined;
    parts.push(part);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(parts).toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the console's server; resolves once it listens. */
export async function startConsole(options: ConsoleOptions): Promise<RunningConsole> {
  const files = loadStaticFiles(options.webRoot);
  const found = files.get("/index.html");
  if (found === undefined) throw new Error(`the web app is missing: no index.html in ${options.webRoot}`);
  const index: StaticFile = found;
  const secrets = new Secrets();
  const downloads = new DownloadLinks();
  const api = connectNodeAdapter({
    routes: (router) => router.service(JobService, jobProxy(options.client, options)),
    requestPathPrefix: apiPrefix,
    connect: true,
    grpc: false,
    grpcWeb: false,
    requireConnectProtocolHeader: true,
    readMaxBytes: 4 * 1024 * 1024,
  });
  let hosts = new Set<string>();

  async function download(target: DownloadTarget, res: ServerResponse): Promise<void> {
    const abort = new AbortController();
    res.on("close", () => abort.abort());
    const stream = options.client.streamOutput({ id: target.id, stream: target.stream === "stdout" ? OutputStream.STDOUT : OutputStream.STDERR }, { signal: abort.signal });
    try {
      for await (const message of stream) {
        if (message.event.case !== "chunk") continue;
        if (!res.headersSent) {
          res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Disposition": `attachment; filename="${target.id}.${target.stream}"` });
        }
        if (!res.write(message.event.value.data)) await new Promise((resolve) => res.once("drain", resolve));
      }
      if (!res.headersSent) res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Disposition": `attachment; filename="${target.id}.${target.stream}"` });
      res.end();
    } catch (error) {
      if (!res.headersSent) reply(res, 502, await options.describe(error));
      else res.destroy();
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [name, value] of Object.entries(securityHeaders)) res.setHeader(name, value);
    const path = new URL(req.url ?? "/", "http://console").pathname;
    const call = path.startsWith(`${apiPrefix}/`) || path === "/session" || path === "/download";
    const refusal = checkRequest(req.headers, hosts, { sameOriginOnly: call });
    if (refusal !== undefined) return reply(res, refusal.status, refusal.message);
    if (call) {
      // Nothing that acts is reachable by GET (or any method but POST).
      if (req.method !== "POST") return reply(res, 405, "method not allowed");
      if (path === "/session") {
        const body = await readJson(req);
        const token = typeof body?.code === "string" ? secrets.exchange(body.code) : undefined;
        if (token === undefined) return reply(res, 401);
        return reply(res, 200, JSON.stringify({ token, readOnly: options.readOnly }), "application/json");
      }
      if (!secrets.authorized(req.headers.authorization)) {
        res.setHeader("WWW-Authenticate", "Bearer");
        return reply(res, 401);
      }
      if (path === "/download") {
        const body = await readJson(req);
        const id = body?.id;
        const stream = body?.stream;
        if (typeof id !== "string" || !jobIdPattern.test(id) || (stream !== "stdout" && stream !== "stderr")) return reply(res, 400, "expected {id: a job id, stream: stdout|stderr}");
        return reply(res, 200, JSON.stringify({ path: downloads.create({ id, stream }) }), "application/json");
      }
      if (req.headers["connect-protocol-version"] !== "1") return reply(res, 400, "Connect-Protocol-Version: 1 required");
      return api(req, res);
    }
    if (req.method !== "GET") return reply(res, 405, "method not allowed");
    const link = /^\/download\/([A-Za-z0-9_-]{43})$/.exec(path);
    if (link !== null) {
      const target = downloads.take(link[1] as string);
      return target === undefined ? reply(res, 404, "this download link is unknown, used or expired") : download(target, res);
    }
    const file = files.get(path);
    if (file === undefined && path.startsWith("/assets/")) return reply(res, 404, "not found");
    // Anything else is one of the app's own routes (/, /jobs/ID, /start): the page reads it from its address.
    const { type, body } = file ?? index;
    res.writeHead(200, { "Content-Type": type, "Content-Length": body.length });
    res.end(body);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) reply(res, 500, error instanceof Error ? error.message : String(error));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  hosts = allowedHosts(options.host, port);
  const url = `http://${hostForUrl(options.host)}:${port}/`;
  return {
    url,
    openUrl: `${url}#code=${secrets.code as string}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
