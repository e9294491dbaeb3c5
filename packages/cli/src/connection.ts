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
  /** Closes the connection at once, cancelling calls still open. */
  close(): void;
}

/** A gRPC connection to the server at `url` over the dialer's sockets (the first one is already connecting). */
export function connect(url: URL, dialer: Dialer): Connection {
  let answered = false;
  // Our own session manager, so the command can close the connection when done instead of waiting for the idle
  // timeout, and our own sockets, to see their errors.
  const sessionManager = new Http2SessionManager(url, {}, { createConnection: () => dialer.dial() });
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
    close() {
      sessionManager.abort();
      dialer.close();
    },
  };
}
