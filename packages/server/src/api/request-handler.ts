// The server's request listener: connect's router, server-streaming gRPC calls through grpc-streaming.ts, and one
// debug line (never a stack on stderr) when a client leaves before its response was written.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { ConnectError, createConnectRouter, type ContextValues, type ServiceImpl } from "@connectrpc/connect";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import { isGrpcStreamingRequest, serveGrpcStreaming, streamingMethods, type FrameEncoder } from "./grpc-streaming.ts";
import { clip, type Logger } from "../log.ts";

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;

/** Options of {@link requestHandler}. */
export interface RequestHandlerOptions {
  /** Each service with its implementation (as {@link guard} builds it). */
  services: [DescService, ServiceImpl<DescService>][];
  /** The context values of a request (its connection's peer). */
  contextValues: (req: Request) => ContextValues;
  /** Largest request message accepted. */
  readMaxBytes: number;
  /** Aborted when the server shuts down: open calls end with its reason. */
  shutdownSignal: AbortSignal;
  /** Answers a request for a path that is no method of `services`. */
  fallback: (req: Request, res: Response) => void;
  log: Logger;
  /** Hand-made gRPC frame encodings of response messages, by message type name (see {@link FrameEncoder}). */
  frameEncoders?: ReadonlyMap<string, FrameEncoder>;
}

// Errors of writing to a stream or socket the client already closed or reset.
const goneCodes = new Set(["ECANCELED", "ECONNRESET", "EPIPE", "ERR_STREAM_DESTROYED", "ERR_STREAM_WRITE_AFTER_END", "ERR_HTTP2_INVALID_STREAM", "ERR_HTTP2_STREAM_ERROR"]);

function clientGone(res: Response, error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && goneCodes.has(code)) return true;
    if (e.cause === e) break;
  }
  return res.destroyed || ("stream" in res && (res.stream.closed || res.stream.destroyed));
}

/**
 * HTTP/1.1: a response sent before its request was read whole (a request over the size limit is refused from its
 * length) says "Connection: close", the rest of the body is read and discarded, and the socket is closed after it: a
 * client reusing the socket would otherwise have its next request read from the middle of this one's body, or reset.
 */
function closeIfUnread(req: IncomingMessage, res: ServerResponse): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse["writeHead"]>) {
    if (!req.complete) {
      this.shouldKeepAlive = false;
      req.resume();
    }
    return writeHead.apply(this, args);
  } as ServerResponse["writeHead"];
}

/**
 * The HTTP request listener serving `services` over gRPC, gRPC-Web and Connect (connect's router, the way
 * connectNodeAdapter does, without compression), with server-streaming gRPC calls on HTTP/2 taken by
 * {@link serveGrpcStreaming}. A response that cannot be written because the client went away is one debug log
 * line; connectNodeAdapter would print a stack trace with console.error.
 */
export function requestHandler(options: RequestHandlerOptions): (req: Request, res: Response) => void {
  const { log } = options;
  const router = createConnectRouter({ readMaxBytes: options.readMaxBytes, acceptCompression: [], shutdownSignal: options.shutdownSignal });
  for (const [service, impl] of options.services) router.service(service, impl as Partial<ServiceImpl<DescService>>);
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, h]));
  const streaming = streamingMethods(options.services, options.frameEncoders);
  const writeFailed = (method: DescMethod, res: Response, error: unknown): void => {
    const fields = { method: `${method.parent.typeName}/${method.name}`, error: clip((error as Error)?.message ?? String(error), 200) };
    if (clientGone(res, error)) log.debug("client went away before its response was written", fields);
    else log.warn("writing a response failed", fields);
  };
  return (req, res) => {
    const path = req.url?.split("?", 2)[0] ?? "";
    const lean = streaming.get(path);
    if (lean !== undefined && isGrpcStreamingRequest(req as Http2ServerRequest)) {
      void serveGrpcStreaming(lean, req as Http2ServerRequest, res as Http2ServerResponse, {
        readMaxBytes: options.readMaxBytes,
        shutdownSignal: options.shutdownSignal,
        contextValues: options.contextValues,
        onWriteError: (method, error) => writeFailed(method, res, error),
      });
      return;
    }
    if (req.httpVersionMajor === 1) closeIfUnread(req as IncomingMessage, res as ServerResponse);
    const handler = handlers.get(path);
    if (handler === undefined) {
      options.fallback(req, res);
      return;
    }
    const universal = universalRequestFromNodeRequest(req, res, undefined, options.contextValues(req));
    handler(universal)
      .then((answer) => universalResponseToNodeResponse(answer, res))
      .catch((error: unknown) => writeFailed(handler.method, res, error instanceof ConnectError && error.cause !== undefined ? error.cause : error));
  };
}
