import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { JobService } from "@jobexec/proto";
import type { Credentials } from "./credentials.ts";

/** A JobService client over one HTTP/2 connection with mutual TLS. */
export interface Connection {
  client: Client<typeof JobService>;
  /** The server, as HOST:PORT, for messages. */
  address: string;
  /** Closes the connection at once, cancelling calls still open. */
  close(): void;
}

/** Opens (lazily, on the first call) a gRPC connection to the server at `url` with the given credentials. */
export function connect(url: URL, credentials: Credentials): Connection {
  // An own session manager, so the command can close the connection when it is done instead of waiting for the
  // idle timeout; nodeOptions then belong to it.
  const sessionManager = new Http2SessionManager(url, {}, { ca: credentials.ca, cert: credentials.cert, key: credentials.key });
  const transport = createGrpcTransport({ baseUrl: url.origin, sessionManager });
  return {
    client: createClient(JobService, transport),
    address: url.host,
    close: () => sessionManager.abort(),
  };
}
