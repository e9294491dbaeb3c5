// Server-streaming calls over gRPC on HTTP/2, served by one loop from the implementation to the HTTP/2 stream.
import type { Http2ServerRequest, Http2ServerResponse, ServerHttp2Stream } from "node:http2";
import { create, isMessage, toBinary, type DescMethodServerStreaming, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues } from "@connectrpc/connect";
import { compressionNegotiate, createMethodSerializationLookup, encodeEnvelope } from "@connectrpc/connect/protocol";
import { contentTypeProto, headerAcceptEncoding, parseContentType, parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import type { CallContext } from "./guard.ts";

/** A server-streaming method, its guarded implementation, and how its responses become gRPC frames. */
export interface StreamingMethod {
  method: DescMethodServerStreaming;
  /** The request message from its bytes; one that does not parse is INVALID_ARGUMENT, as on connect's router. */
  parse: (bytes: Uint8Array) => unknown;
  impl: (req: unknown, ctx: CallContext) => AsyncIterable<unknown>;
  /** The frame (envelope and message) of one response, in pieces to write in order. */
  frame: (message: unknown) => readonly Uint8Array[];
  /** Called once a response's frame was written out, when the encoder wants to know (see {@link FrameEncoder}). */
  written?: (message: unknown) => void;
}

/** A hand-made encoding of the response messages of one type. */
export interface FrameEncoder {
  /**
   * The gRPC frame of `message` in pieces to write in order (e.g. a header, then a payload as it is); undefined
   * leaves the message to the generic encoding (toBinary, then the envelope).
   */
  frame(message: unknown): readonly Uint8Array[] | undefined;
  /** Called once the frame of `message` was written to the connection: buffers it lent are no longer used. */
  written?(message: unknown): void;
}

/** What every call needs besides its method. */
export interface StreamingOptions {
  readMaxBytes: number;
  shutdownSignal: AbortSignal;
  contextValues: (req: Http2ServerRequest) => ContextValues;
  /** Called when the status could not be written (the client went away, or anything else). */
  onWriteError: (method: DescMethodServerStreaming, error: unknown) => void;
}

const envelopeHeaderBytes = 5;
const compressedFlag = 0b1;

/**
 * The server-streaming methods of guarded services by request path, for {@link serveGrpcStreaming}.
 *
 * Why this path exists: connect serves each call through a pipeline of about ten async generators (down-levelled by
 * tslib) and a full HandlerContext, some 36 KiB of heap per open call, held for as long as a follower waits for
 * output, which may be hours. This path holds one loop, the implementation's own iterator and a three-field
 * context, and reuses connect's protocol helpers (content type, grpc-timeout, compression refusal, the message size
 * limit's sentence, trailers) so that it answers as connect would. gRPC-Web, Connect and unary calls stay on
 * connect's router.
 */
export function streamingMethods(services: [DescService, object][], encoders: ReadonlyMap<string, FrameEncoder> = new Map()): Map<string, StreamingMethod> {
  const methods = new Map<string, StreamingMethod>();
  for (const [service, impl] of services) {
    for (const m of service.methods) {
      if (m.methodKind !== "server_streaming") continue;
      // (methodKind says so; the DescMethod type does not narrow on it)
      const method = m as DescMethodServerStreaming;
      const handler = (impl as Record<string, StreamingMethod["impl"]>)[method.localName];
      if (handler === undefined) continue;
      const special = encoders.get(method.output.typeName);
      const generic = (message: unknown): Uint8Array[] => [
        encodeEnvelope(0, toBinary(method.output, isMessage(message, method.output) ? message : create(method.output, message as never))),
      ];
      const path = `/${service.typeName}/${method.name}`;
      // connect's own request parsing (patches/: a request that does not parse is the client's error).
      const request = createMethodSerializationLookup(method, undefined, undefined, { readMaxBytes: Number.MAX_SAFE_INTEGER, writeMaxBytes: Number.MAX_SAFE_INTEGER }).getI(true);
      const parse = (bytes: Uint8Array): unknown => request.parse(bytes);
      if (special === undefined) methods.set(path, { method, parse, impl: handler, frame: generic });
      else methods.set(path, { method, parse, impl: handler, frame: (message) => special.frame(message) ?? generic(message), written: special.written?.bind(special) });
    }
  }
  return methods;
}

/** Whether this request is a binary gRPC call over HTTP/2, which {@link serveGrpcStreaming} can take. */
export function isGrpcStreamingRequest(req: Http2ServerRequest): boolean {
  return req.httpVersionMajor === 2 && req.method === "POST" && parseContentType(req.headers["content-type"] ?? null)?.binary === true;
}

/** The single header value of `name`. */
function header(req: Http2ServerRequest, name: string): string | null {
  const value = req.headers[name];
  return value === undefined ? null : Array.isArray(value) ? value.join(",") : value;
}

/** Serves one server-streaming gRPC call; never rejects (every failure ends the call with a status). */
export async function serveGrpcStreaming(target: StreamingMethod, req: Http2ServerRequest, res: Http2ServerResponse, options: StreamingOptions): Promise<void> {
  const { method } = target;
  // One signal for the call: the client leaving, the server shutting down, or the deadline.
  const call = new AbortController();
  const abort = (reason: ConnectError) => () => call.abort(reason);
  const onClose = abort(new ConnectError("client went away", Code.Canceled));
  const onShutdown = (): void => call.abort(options.shutdownSignal.reason);
  req.once("close", onClose);
  options.shutdownSignal.addEventListener("abort", onShutdown, { once: true });
  const timeout = parseTimeout(header(req, "grpc-timeout"), Number.POSITIVE_INFINITY);
  const deadline = timeout.timeoutMs === undefined ? undefined : setTimeout(abort(new ConnectError("the operation timed out", Code.DeadlineExceeded)), timeout.timeoutMs);
  if (options.shutdownSignal.aborted) onShutdown();
  const stream = res.stream;
  const { written } = target;
  const send = (message: unknown): boolean => {
    if (closed(res)) return false; // (the call's signal is aborted: the handler stops)
    if (!res.headersSent) res.writeHead(200, { "content-type": contentTypeProto });
    return writeFrame(stream, target.frame(message), written && ((err) => err == null && written(message)));
  };
  // Handlers with many responses (StreamOutput's followers) send them straight through this, not through the loop.
  const push = { send, ready: () => (closed(res) ? Promise.resolve() : drained(stream)) };
  const context: CallContext = { signal: call.signal, values: options.contextValues(req), protocolName: "grpc", push };
  let it: AsyncIterator<unknown> | undefined;
  let error: ConnectError | undefined;
  try {
    if (timeout.error) throw timeout.error;
    const compression = compressionNegotiate([], header(req, "grpc-encoding"), header(req, "grpc-accept-encoding"), headerAcceptEncoding);
    if (compression.error) throw compression.error;
    const input = target.parse(await readSingleMessage(req, options.readMaxBytes));
    it = target.impl(input, context)[Symbol.asyncIterator]();
    // The next message is produced while the previous one is being sent: one message in flight, one being read.
    let next = it.next();
    // (A failure while a write drains is thrown at the next await of it, not reported as unhandled meanwhile.)
    next.catch(() => undefined);
    for (;;) {
      const result = await next;
      if (result.done === true) break;
      const room = send(result.value);
      next = it.next();
      next.catch(() => undefined);
      if (!room && !closed(res)) await drained(stream);
      if (closed(res)) {
        // The client went away: the message being produced is not wanted (the call's signal ends its wait).
        call.abort(new ConnectError("client went away", Code.Canceled));
        break;
      }
    }
  } catch (err) {
    error = ConnectError.from(err);
  } finally {
    req.off("close", onClose);
    options.shutdownSignal.removeEventListener("abort", onShutdown);
    clearTimeout(deadline);
    // Ends the implementation (a no-op when it finished on its own).
    await it?.return?.().catch(() => undefined);
  }
  if (closed(res)) return;
  try {
    if (!res.headersSent) res.writeHead(200, { "content-type": contentTypeProto });
    const trailer = new Headers();
    setTrailerStatus(trailer, error);
    res.addTrailers(Object.fromEntries(trailer));
    res.end();
  } catch (err) {
    options.onWriteError(method, err);
  }
}

/** The one enveloped message of a request, refusing a compressed, missing, extra or oversized one. */
async function readSingleMessage(req: Http2ServerRequest, readMaxBytes: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let received = 0;
  let expected: number | undefined;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    received += chunk.length;
    if (expected === undefined && received >= envelopeHeaderBytes) {
      const head = chunks.length === 1 ? chunk : Buffer.concat(chunks);
      if (((head[0] ?? 0) & compressedFlag) !== 0) throw new ConnectError("received compressed envelope, but do not know how to decompress", Code.Internal);
      const length = head.readUInt32BE(1);
      // Refused from the envelope's header, before the body is read; the sentence is connect's.
      if (length > readMaxBytes) throw new ConnectError(`message size ${length} is larger than configured readMaxBytes ${readMaxBytes}`, Code.ResourceExhausted);
      expected = envelopeHeaderBytes + length;
    }
    if (expected !== undefined && received > expected) {
      throw new ConnectError("protocol error: received extra input message for server-streaming method", Code.Unimplemented);
    }
  }
  if (expected === undefined || received < expected) {
    throw new ConnectError("protocol error: missing input message for server-streaming method", Code.Unimplemented);
  }
  return Buffer.concat(chunks).subarray(envelopeHeaderBytes);
}

function closed(res: Http2ServerResponse): boolean {
  return res.stream.closed || res.stream.destroyed;
}

/**
 * Writes a frame's pieces (one writev when there are several), `done` called when the last one was written out;
 * false when the stream's buffer is full.
 */
function writeFrame(stream: ServerHttp2Stream, pieces: readonly Uint8Array[], done?: (err?: Error | null) => void): boolean {
  const last = pieces.length - 1;
  if (last === 0) return stream.write(pieces[0], done);
  stream.cork();
  let room = true;
  pieces.forEach((piece, i) => (room = i === last ? stream.write(piece, done) : stream.write(piece)));
  stream.uncork();
  return room;
}

function drained(stream: ServerHttp2Stream): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off("drain", done);
      stream.off("close", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
  });
}
