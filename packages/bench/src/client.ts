// The bench's gRPC clients: connect-node over HTTP/2 with mutual TLS, with the CLI's receive windows by default.
import type { Http2Session } from "node:http2";
import type { Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type { Tls } from "./tls.ts";

/** How a client talks to the server. */
export interface ClientOptions {
  /**
   * Accept compressed responses: true (the default) keeps connect-node's defaults, which accept gzip and brotli
   * (the server still sends identity: it accepts no compression); false asks for identity only.
   */
  compression?: boolean;
  /** "bulk" (the default): large HTTP/2 receive windows, as the CLI has; "defaults": connect-node's (64 KiB). */
  windows?: "bulk" | "defaults";
}

// HTTP/2 receive windows for bulk downloads, as the CLI sets them: 64 KiB (the protocol's default, and connect-node's)
// lets the server send one window per round trip.
const streamWindow = 8 * 2 ** 20;
const connectionWindow = 16 * 2 ** 20;

/** A session manager whose connections advertise large receive windows (per stream and per connection). */
class BulkSessionManager extends Http2SessionManager {
  readonly #widened = new WeakSet<Http2Session>();
  constructor(url: string, nodeOptions: object) {
    super(url, {}, { ...nodeOptions, settings: { initialWindowSize: streamWindow } });
  }
  override async request(...args: Parameters<Http2SessionManager["request"]>): ReturnType<Http2SessionManager["request"]> {
    const stream = await super.request(...args);
    const { session } = stream;
    if (session !== undefined && !this.#widened.has(session)) {
      this.#widened.add(session);
      session.setLocalWindowSize(connectionWindow);
    }
    return stream;
  }
}

/** A transport with its own HTTP/2 connection to the server at `url`, as the bench's client certificate. */
export function benchTransport(url: string, tls: Pick<Tls, "ca" | "clientCert" | "clientKey">, options: ClientOptions = {}): Transport {
  const nodeOptions = { ca: tls.ca, cert: tls.clientCert, key: tls.clientKey };
  return createGrpcTransport({
    baseUrl: url,
    ...(options.windows === "defaults" ? { nodeOptions } : { sessionManager: new BulkSessionManager(url, nodeOptions) }),
    ...(options.compression === false ? { acceptCompression: [] } : {}),
  });
}
