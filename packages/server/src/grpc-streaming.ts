// Server-streaming calls over gRPC on HTTP/2, served by one loop from the implementation to the HTTP/2 stream.
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { create, fromBinary, isMessage, toBinary, type DescMethodServerStreaming, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues } from "@connectrpc/connect";
import { compressionNegotiate, encodeEnvelope } from "@connectrpc/connect/protocol";
import { contentTypeProto, headerAcceptEncoding, parseContentType, parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import type { CallContext } from "./guard.ts";

/** A server-streaming method and its guarded implementation. */
export interface StreamingMethod {
  method: DescMethodServerStreaming;
  impl: (req: unknown, ctx: CallContext) => AsyncIterable<unknown>;
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
export function streamingMethods(services: [DescService, object][]): Map<string, StreamingMethod> {
  const methods = new Map<string, StreamingMethod>();
  for (const [service, impl] of services) {
    for (const method of service.methods) {
      if (method.methodKind !== "server_streaming") continue;
      const handler = (impl as Record<string, StreamingMethod["impl"]>)[method.localName];
      // (methodKind says so; the DescMethod type does not narrow on it)
      if (handler !== undefined) methods.set(`/${service.typeName}/${method.name}`, { method: method as DescMethodServerStreaming, impl: handler });
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
  const context: CallContext = { signal: call.signal, values: options.contextValues(req), protocolName: "grpc" };
  let it: AsyncIterator<unknown> | undefined;
  let error: ConnectError | undefined;
  try {
    if (timeout.error) throw timeout.error;
    const compression = compressionNegotiate([], header(req, "grpc-encoding"), header(req, "grpc-accept-encoding"), headerAcceptEncoding);
    if (compression.error) throw compression.error;
    const input = fromBinary(method.input, await readSingleMessage(req, options.readMaxBytes));
    it = target.impl(input, context)[Symbol.asyncIterator]();
    for (;;) {
      const next = await it.next();
      if (next.done === true) break;
      const message = isMessage(next.value, method.output) ? next.value : create(method.output, next.value as never);
      if (!res.headersSent) res.writeHead(200, { "content-type": contentTypeProto });
      if (!res.write(encodeEnvelope(0, toBinary(method.output, message)))) await drained(res);
      if (closed(res)) break;
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

function drained(res: Http2ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
