import type { Http2Session } from "node:http2";
import { ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { JobService } from "@jobexec/proto";
import type { Dialer } from "./tls-dialer.ts";

/** A JobService client over one HTTP/2 connection with mutual TLS. */
export interface Connection {
  client: Client<typeof JobService>;
  /** The server, as HOST:PORT, for messages. */
  address: string;
  /**
   * The first error of the TLS socket, if any. With TLS 1.3 the server verifies our certificate after our side of
   * the handshake is done, so its refusal (an alert such as "unknown CA") arrives on the socket while the call
   * only sees its stream cancelled: this is the real reason.
   */
  socketError(): Error | undefined;
  /**
   * Whether the TLS handshake completed but the server never answered a call, neither with a response nor with a
   * status: a hang-up then means the server refused our client certificate (Node servers close the connection
   * without an alert).
   */
  hungUpAfterHandshake(): boolean;
  /** Whether a TLS handshake with the server completed. */
  handshakeDone(): boolean;
  /** Closes the connection at once, cancelling calls still open. */
  close(): void;
}

// HTTP/2 receive windows. With the protocol's default of 64 KiB per stream and per connection (connect-node keeps it),
// the server can send only 64 KiB per round trip: `jobexec logs` of a big output ran at a fraction of what TLS allows.
// At most one window of output waits here unread when stdout is slower than the server (a pipe into less).
const streamWindowBytes = 8 * 1024 * 1024;
const connectionWindowBytes = 16 * 1024 * 1024;

/** A session manager whose connection advertises large receive windows, per stream and for the connection. */
class BulkSessionManager extends Http2SessionManager {
  readonly #widened = new WeakSet<Http2Session>();

  override async request(...args: Parameters<Http2SessionManager["request"]>): ReturnType<Http2SessionManager["request"]> {
    const stream = await super.request(...args);
    // The connection's window is not a setting: it grows with a WINDOW_UPDATE, once per connection.
    const { session } = stream;
    if (session !== undefined && !this.#widened.has(session)) {
      this.#widened.add(session);
      session.setLocalWindowSize(connectionWindowBytes);
    }
    return stream;
  }
}

/** A gRPC connection to the server at `url` over the dialer's sockets (the first one is already connecting). */
export function connect(url: URL, dialer: Dialer): Connection {
  let answered = false;
  // Our own session manager, so the command can close the connection when done instead of waiting for the idle
  // timeout, and our own sockets, to see their errors.
  const sessionManager = new BulkSessionManager(url, {}, { settings: { initialWindowSize: streamWindowBytes }, createConnection: () => dialer.dial() });
  const transport = createGrpcTransport({
    baseUrl: url.origin,
    sessionManager,
    interceptors: [
      (next) => async (request) => {
        try {
          const response = await next(request);
          answered = true;
          return response;
        } catch (error) {
          // An error the server sent as a gRPC status (even INTERNAL) is an answer: the TLS layer accepted us.
          if (error instanceof ConnectError && error.metadata.has("grpc-status")) answered = true;
          throw error;
        }
      },
    ],
  });
  return {
    client: createClient(JobService, transport),
    address: url.host,
    socketError: () => dialer.socketError(),
    hungUpAfterHandshake: () => dialer.handshakeDone() && !answered,
    handshakeDone: () => dialer.handshakeDone(),
    close() {
      sessionManager.abort();
      dialer.close();
    },
  };
}
