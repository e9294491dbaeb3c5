import type { X509Certificate } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import type { TLSSocket } from "node:tls";
import { createContextKey } from "@connectrpc/connect";
import { clientCertificateProblem } from "./tls.ts";

/** Who is calling: the client certificate's subject CN, and whether its OU names the admin role. */
export interface Caller {
  name: string;
  admin: boolean;
}

/**
 * The caller of a connection, or why the connection is refused: its certificate (UNAUTHENTICATED), or a connection
 * limit (`exhausted`: RESOURCE_EXHAUSTED).
 */
export type Peer = { caller: Caller } | { refusal: string; exhausted?: boolean };

/** The OU value that grants the admin role. */
export const ADMIN_OU = "admin";

/** Context key under which each request carries its connection's {@link Peer}. */
export const peerKey = createContextKey<Peer>({ refusal: "no client certificate" }, { description: "jobexec peer" });

/** Derives the caller from a verified client certificate. */
export function peerFromCertificate(cert: X509Certificate | undefined): Peer {
  if (!cert) return { refusal: "no client certificate" };
  const problem = clientCertificateProblem(cert);
  if (problem) return { refusal: problem };
  const subject = cert.toLegacyObject().subject as Record<string, string | string[] | undefined> | undefined;
  const cn = subject?.CN;
  if (cn === undefined || cn === "") return { refusal: "client certificate has no subject common name (CN), which is the caller's identity" };
  if (Array.isArray(cn)) return { refusal: "client certificate has more than one subject common name (CN)" };
  const ou = subject?.OU;
  const units = ou === undefined ? [] : Array.isArray(ou) ? ou : [ou];
  return { caller: { name: cn, admin: units.includes(ADMIN_OU) } };
}

// One derivation per connection: the certificate cannot change within it (TLS 1.3 has no renegotiation).
const peers = new WeakMap<object, Peer>();

/** The {@link Peer} of a connection: an HTTP/2 session, or the TLS socket of an HTTP/1.1 connection. */
export function peerOf(connection: object, socket: Pick<TLSSocket, "getPeerX509Certificate">): Peer {
  let peer = peers.get(connection);
  if (!peer) {
    peer = peerFromCertificate(socket.getPeerX509Certificate());
    peers.set(connection, peer);
  }
  return peer;
}

/** Refuses every call of a connection over a limit with RESOURCE_EXHAUSTED and `refusal`. */
export function refuseConnection(connection: object, refusal: string): void {
  peers.set(connection, { refusal, exhausted: true });
}

/** The {@link Peer} of the connection a request arrived on. */
export function peerOfRequest(req: IncomingMessage | Http2ServerRequest): Peer {
  const socket = req.socket as TLSSocket;
  return peerOf("stream" in req ? req.stream.session ?? socket : socket, socket);
}
