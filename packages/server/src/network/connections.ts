// Every connection of the server from accept to close: limits, idle timeout, keep-alive pings, refusals.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2SecureServer, Http2ServerRequest, Http2ServerResponse, ServerHttp2Session } from "node:http2";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { ConnectionCounter, type ConnectionBudget } from "./connection-limits.ts";
import { peerOf, refuseConnection, type Peer } from "./identity.ts";
import type { ServerLimits } from "../settings/limits.ts";
import { clip, type Logger } from "../log.ts";
import { ThrottledLog } from "../throttled-log.ts";

/** How long a refused connection stays open for its calls to be answered with the refusal. */
export const REFUSED_LINGER_MS = 1000;
/** The same once client connections fill --max-connections: the admins' headroom must not fill with refused ones. */
export const REFUSED_LINGER_FULL_MS = 100;

/** The connections open now, for shutting down. */
export interface ConnectionSet {
  readonly sessions: ReadonlySet<ServerHttp2Session>;
  readonly sockets: ReadonlySet<TLSSocket>;
}

/** A connection's calls in flight, and the timer that closes it once it has none for the idle timeout. */
class Idle {
  #open = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #ms: number;
  readonly #close: () => void;

  constructor(ms: number, close: () => void) {
    this.#ms = ms;
    this.#close = close;
    this.#arm();
  }

  begin(): void {
    if (this.#open++ === 0) clearTimeout(this.#timer);
  }

  end(): void {
    if (--this.#open === 0) this.#arm();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#open = Number.POSITIVE_INFINITY;
  }

  #arm(): void {
    if (this.#ms === 0 || this.#open === Number.POSITIVE_INFINITY) return;
    this.#timer = setTimeout(this.#close, this.#ms);
    this.#timer.unref();
  }
}

/**
 * Applies the connection limits to `server` and keeps track of its connections:
 * - at most `budget.maxSockets` sockets are accepted (Node's maxConnections: the rest are closed on accept);
 * - after the handshake, a connection over its identity's limit, or a non-admin one over the total, is refused:
 *   each call on it fails with RESOURCE_EXHAUSTED and the reason, and it is closed (GOAWAY) after
 *   {@link REFUSED_LINGER_MS} ({@link REFUSED_LINGER_FULL_MS} once clients fill the limit); a refused client
 *   certificate the same way with UNAUTHENTICATED;
 * - a connection with no call in flight for the idle timeout is closed (HTTP/2: GOAWAY, as grpc-go's
 *   MaxConnectionIdle);
 * - an HTTP/2 connection silent for the keep-alive time gets a PING and is closed if it is not answered in the
 *   keep-alive timeout (the gRPC keepalive design, A8/A9); HTTP/1.1 sockets get TCP keep-alive;
 * - refusals and failed handshakes are logged at most once per interval per kind, with a count.
 */
export function watchConnections(server: Http2SecureServer, limits: ServerLimits, budget: ConnectionBudget, log: Logger): ConnectionSet {
  const counter = new ConnectionCounter(budget, limits.maxConnectionsPerIdentity);
  const sessions = new Set<ServerHttp2Session>();
  const sockets = new Set<TLSSocket>();
  const http1 = new WeakMap<object, Idle>();
  const refusedHttp1 = new WeakSet<object>();
  const dropped = new ThrottledLog(log, "warn", "connections refused: the server has as many sockets open as it accepts");
  const overLimit = new ThrottledLog(log, "warn", "connections refused: over a connection limit");
  const badCertificate = new ThrottledLog(log, "warn", "client certificate refused");
  const handshakes = new Map<string, ThrottledLog>();
  server.maxConnections = budget.maxSockets;

  server.on("drop", (data?: { remoteAddress?: string }) => dropped.note({ remote: data?.remoteAddress ?? null, limit: budget.maxSockets }));
  server.on("connection", (socket: Socket) => {
    socket.once("close", counter.accepted());
  });

  // Admits a connection whose handshake is done; false when it is refused (and closed after `closeSoon`'s delay).
  const admit = (connection: object, socket: TLSSocket, peer: Peer, closeSoon: (ms: number) => void): boolean => {
    const linger = counter.sockets > budget.maxConnections ? REFUSED_LINGER_FULL_MS : REFUSED_LINGER_MS;
    if ("refusal" in peer) {
      badCertificate.note({ remote: socket.remoteAddress ?? null, reason: peer.refusal });
      closeSoon(linger);
      return false;
    }
    const admitted = counter.admit(peer.caller);
    if ("refusal" in admitted) {
      refuseConnection(connection, admitted.refusal);
      overLimit.note({ identity: clip(peer.caller.name), remote: socket.remoteAddress ?? null, reason: admitted.refusal, sockets: counter.sockets });
      closeSoon(linger);
      return false;
    }
    socket.once("close", admitted.leave);
    return true;
  };

  server.on("session", (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    const socket = session.socket as TLSSocket;
    const peer = peerOf(session, socket);
    const closeSoon = (ms: number): void => {
      // Calls are answered with the refusal until the connection goes (a GOAWAY right after the first answer
      // races clients that close their side at once: connect-node then throws on an error nobody listens to).
      const timer = setTimeout(() => session.close(), ms);
      timer.unref();
      session.once("close", () => clearTimeout(timer));
    };
    if (!admit(session, socket, peer, closeSoon)) return;
    const who = "caller" in peer ? clip(peer.caller.name) : null;
    const idle = new Idle(limits.idleTimeoutMs, () => {
      log.debug("idle connection closed", { identity: who, idleMs: limits.idleTimeoutMs });
      session.close();
    });
    session.on("stream", (stream) => {
      idle.begin();
      stream.once("close", () => idle.end());
    });
    session.once("close", () => idle.stop());
    if (limits.keepaliveTimeMs > 0) {
      // (Not setTimeout's callback: that is a once listener.)
      session.setTimeout(limits.keepaliveTimeMs);
      session.on("timeout", () => {
        if (session.closed || session.destroyed) return;
        const unanswered = setTimeout(() => {
          log.info("connection closed: keep-alive ping not answered", { identity: who, timeoutMs: limits.keepaliveTimeoutMs });
          session.destroy();
        }, limits.keepaliveTimeoutMs);
        unanswered.unref();
        const answered = (): void => {
          clearTimeout(unanswered);
          // Activity re-arms the timer; an answered ping alone does not, so arm it again.
          if (!session.closed && !session.destroyed) session.setTimeout(limits.keepaliveTimeMs);
        };
        if (!session.ping(answered)) clearTimeout(unanswered);
      });
    }
  });

  server.on("secureConnection", (socket: TLSSocket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    // HTTP/2 connections were admitted on "session", which Node emits first.
    if (socket.alpnProtocol === "h2") return;
    const closeSoon = (ms: number): void => {
      // The refusal is written as the first response; then the socket is closed.
      refusedHttp1.add(socket);
      const timer = setTimeout(() => socket.destroy(), ms);
      timer.unref();
      socket.once("close", () => clearTimeout(timer));
    };
    if (!admit(socket, socket, peerOf(socket, socket), closeSoon)) return;
    if (limits.keepaliveTimeMs > 0) socket.setKeepAlive(true, limits.keepaliveTimeMs);
    http1.set(socket, new Idle(limits.idleTimeoutMs, () => {
      log.debug("idle connection closed", { idleMs: limits.idleTimeoutMs, protocol: "http/1.1" });
      socket.end();
    }));
    socket.once("close", () => http1.get(socket)?.stop());
  });

  server.on("request", (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => {
    if (req.httpVersionMajor !== 1) return;
    const { socket } = req;
    if (refusedHttp1.has(socket)) {
      res.once("finish", () => socket.end());
      return;
    }
    const idle = http1.get(socket);
    if (idle === undefined) return;
    idle.begin();
    res.once("close", () => idle.end());
  });

  server.on("tlsClientError", (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    // Node refuses an unverified client certificate by closing the socket after the handshake: the client sees the
    // connection close, and the reason is only in authorizationError (e.g. CERT_HAS_EXPIRED).
    const reason = socket.authorizationError ? String(socket.authorizationError) : null;
    const kind = `${err.code ?? ""} ${reason ?? ""}`;
    let throttled = handshakes.get(kind);
    if (throttled === undefined) {
      throttled = new ThrottledLog(log, "info", "tls handshake failed");
      // Node's error codes and OpenSSL's verify results are small sets; the bound only guards against surprises.
      if (handshakes.size < 64) handshakes.set(kind, throttled);
    }
    throttled.note({ remote: socket.remoteAddress ?? null, reason, error: clip(err.message, 200) });
  });

  return { sessions, sockets };
}
