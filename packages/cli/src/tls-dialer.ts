import { isIP } from "node:net";
import * as tls from "node:tls";
import type { TLSSocket } from "node:tls";
import type { Credentials } from "./credentials.ts";

/** Opens the mutual-TLS sockets of one server connection, and remembers what happened on them. */
export interface Dialer {
  /** A socket to the server: the first one was opened when the dialer was made, later ones are opened on demand. */
  dial(): TLSSocket;
  /** The first error of any socket, if any. */
  socketError(): Error | undefined;
  /** Whether a TLS handshake completed. */
  handshakeDone(): boolean;
  /** Destroys the first socket if it was never used. */
  close(): void;
}

/**
 * Opens the first socket at once. Made before Connect and protobuf are loaded (30-60 ms), so that the TCP handshake
 * (a round trip to the server, which the kernel completes on its own) proceeds meanwhile; the TLS handshake, which
 * needs this process's event loop, follows once they are loaded.
 */
export function dialer(url: URL, credentials: Credentials): Dialer {
  const ca = trustOnly(credentials.ca);
  let socketError: Error | undefined;
  let handshakeDone = false;
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const open = (): TLSSocket => {
    const socket = tls.connect({
      host,
      port: Number(url.port),
      servername: isIP(host) === 0 ? host : undefined,
      ALPNProtocols: ["h2"],
      ...ca,
      cert: credentials.cert,
      key: credentials.key,
    });
    socket.once("secureConnect", () => {
      handshakeDone = true;
    });
    socket.on("error", (error) => {
      socketError ??= error;
    });
    return socket;
  };
  let first: TLSSocket | undefined = open();
  return {
    dial() {
      const socket = first;
      first = undefined;
      // A first socket that already failed is replaced, so that the failure reaches the call that needs it.
      return socket !== undefined && !socket.destroyed ? socket : open();
    },
    socketError: () => socketError,
    handshakeDone: () => handshakeDone,
    close() {
      first?.destroy();
      first = undefined;
    },
  };
}

/**
 * The `ca` option that trusts only our CA. Given as `ca`, Node first builds its store of ~150 bundled root
 * certificates, then adds ours to a copy (26 ms of a profiled `status` run); made the process's default CA
 * certificates (Node 24.5+), the store holds our CA alone and nothing else is parsed. Either way the server's
 * certificate must chain to our CA: no bundled root is trusted. A file that is not plain PEM certificates is left to
 * `ca`, whose errors the messages of error-message.ts explain.
 */
function trustOnly(ca: Buffer): { ca?: Buffer } {
  const certificates = ca.toString("latin1").match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g);
  if (typeof tls.setDefaultCACertificates !== "function" || certificates === null) return { ca };
  try {
    // One certificate per entry: a file may hold several (a bundle of CAs).
    tls.setDefaultCACertificates(certificates);
    return {};
  } catch {
    return { ca };
  }
}
