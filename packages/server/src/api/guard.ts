import { randomBytes } from "node:crypto";
import type {
  DescMethod,
  DescMethodBiDiStreaming,
  DescMethodClientStreaming,
  DescMethodServerStreaming,
  DescMethodUnary,
  DescService,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { JobError, type JobErrorCode } from "@jobexec/core";
import { ServerError } from "../error.ts";
import { peerKey, type Caller } from "../network/identity.ts";
import { clip, type Logger } from "../log.ts";
import type { StreamQuota } from "./stream-quota.ts";

/**
 * Sends a server-streaming call's responses straight to its stream, for a handler that has many to send and wants
 * to skip the generators between it and the stream (grpc-streaming.ts offers it; connect's router does not).
 */
export interface ResponsePush<M = unknown> {
  /** Writes one response; false when the stream's buffer is full: send more once {@link ready} settled. */
  send(message: M): boolean;
  /** Settles once the stream can take more, or is closed (then the call's signal is aborted). */
  ready(): Promise<void>;
}

/**
 * What of connect's HandlerContext the guard reads: every caller of a guarded handler passes at least this (connect
 * passes its whole context; grpc-streaming.ts only this, and a {@link ResponsePush} for server-streaming calls).
 */
export type CallContext = Pick<HandlerContext, "signal" | "values" | "protocolName"> & { push?: ResponsePush };

/** What a guarded handler knows about its call. */
export interface Call {
  readonly caller: Caller;
  /** Aborted when the client goes away, the deadline passes, or the server shuts down. */
  readonly signal: AbortSignal;
  /** The job the call concerns, for its log line; set by handlers that learn it. */
  jobId?: string;
}

/**
 * What a guarded server-streaming handler knows about its call: with `push`, responses may also be sent through it
 * (in order with the ones yielded: each is written at once); a wrapper may replace it with one of its own.
 */
export interface StreamingCall<M = unknown> extends Call {
  push?: ResponsePush<M>;
}

type GuardedMethod<M> =
  M extends DescMethodUnary<infer I, infer O>
    ? (req: MessageShape<I>, call: Call) => Promise<MessageInitShape<O>>
    : M extends DescMethodServerStreaming<infer I, infer O>
      ? (req: MessageShape<I>, call: StreamingCall<MessageInitShape<O>>) => AsyncIterable<MessageInitShape<O>>
      : M extends DescMethodClientStreaming<infer I, infer O>
        ? (requests: AsyncIterable<MessageShape<I>>, call: Call) => Promise<MessageInitShape<O>>
        : M extends DescMethodBiDiStreaming<infer I, infer O>
          ? (requests: AsyncIterable<MessageShape<I>>, call: Call) => AsyncIterable<MessageInitShape<O>>
          : never;

/** A service implementation whose handlers receive an authenticated {@link Call} instead of a raw context. */
export type GuardedImpl<S extends DescService> = { [P in keyof S["method"]]: GuardedMethod<S["method"][P]> };

const jobErrorCodes: Record<JobErrorCode, Code> = {
  not_found: Code.NotFound,
  invalid_argument: Code.InvalidArgument,
  failed_precondition: Code.FailedPrecondition,
  permission_denied: Code.PermissionDenied,
  resource_exhausted: Code.ResourceExhausted,
  internal: Code.Internal,
};

/** Told of every call as it ends, at its log line: the method, its result (undefined: OK) and its duration. */
export type CallEnded = (method: DescMethod, code: Code | undefined, ms: number) => void;

/** Options of {@link guard}. */
export interface GuardOptions {
  /** Bounds the streaming calls (server- and bidi-streaming) each identity holds open. */
  streams?: StreamQuota;
  /** Told of every call as it ends (metrics). */
  ended?: CallEnded;
}

/**
 * Wraps a whole service implementation so that no handler runs without an authenticated caller: the caller comes
 * from the connection's client certificate (a context value set by the adapter, which service options cannot drop),
 * every error leaves as a ConnectError with a code and a sentence (never a stack or an internal path), and every call
 * gets one log line with caller, method, job id (a short prefix of what the client sent), result code and duration
 * (and, if given, an `ended` report). All four kinds of methods are guarded alike; the first argument (a request, or
 * the stream of requests of a client- or bidi-streaming method) is handed on as it is. Streaming calls count against
 * the caller's {@link StreamQuota} while they are open.
 */
export function guard<S extends DescService>(service: S, impl: GuardedImpl<S>, log: Logger, options: GuardOptions = {}): ServiceImpl<S> {
  const handlers: Record<string, unknown> = {};
  const end = (method: DescMethod, call: Call | undefined, ctx: CallContext, began: number, error?: ConnectError, extra?: object): void => {
    const ms = performance.now() - began;
    logCall(log, method, call, ctx, ms, error, extra);
    options.ended?.(method, error?.code, ms);
  };
  for (const method of service.methods) {
    const handler = (impl as Record<string, unknown>)[method.localName];
    if (typeof handler !== "function") throw new ServerError("internal", `guard: ${service.typeName} has no handler for ${method.name}`);
    if (method.methodKind === "unary" || method.methodKind === "client_streaming") {
      const respond = handler as (input: unknown, call: Call) => Promise<unknown>;
      handlers[method.localName] = async (input: unknown, ctx: CallContext) => {
        const began = performance.now();
        let call: Call | undefined;
        try {
          call = open(ctx);
          const res = await respond(input, call);
          end(method, call, ctx, began);
          return res;
        } catch (err) {
          throw failed(end, method, call, ctx, began, err);
        }
      };
    } else {
      const stream = handler as (input: unknown, call: StreamingCall) => AsyncIterable<unknown>;
      handlers[method.localName] = async function* (input: unknown, ctx: CallContext) {
        const began = performance.now();
        let call: StreamingCall | undefined;
        let done = false;
        let leave: (() => void) | undefined;
        try {
          call = open(ctx);
          if (ctx.push !== undefined && method.methodKind === "server_streaming") call.push = ctx.push;
          leave = options.streams?.enter(call.caller);
          yield* stream(input, call);
          done = true;
          end(method, call, ctx, began);
        } catch (err) {
          done = true;
          throw failed(end, method, call, ctx, began, err);
        } finally {
          leave?.();
          // A client that goes away ends the generator through return(): neither branch above ran.
          if (!done) end(method, call, ctx, began, new ConnectError("client went away", Code.Canceled));
        }
      };
    }
  }
  return handlers as ServiceImpl<S>;
}

function open(ctx: CallContext): Call {
  // A shutdown that began before this request arrived: answer with its reason rather than starting work.
  if (ctx.signal.aborted) throw ctx.signal.reason;
  const peer = ctx.values.get(peerKey);
  if ("refusal" in peer) throw new ConnectError(peer.refusal, peer.exhausted === true ? Code.ResourceExhausted : Code.Unauthenticated);
  return { caller: peer.caller, signal: ctx.signal };
}

type End = (method: DescMethod, call: Call | undefined, ctx: CallContext, began: number, error?: ConnectError, extra?: object) => void;

/** Ends a failed call and returns the error to send: internal errors are logged in full and sent as a reference. */
function failed(end: End, method: DescMethod, call: Call | undefined, ctx: CallContext, began: number, err: unknown): ConnectError {
  const error = wireError(err, ctx);
  if (error.code !== Code.Internal) {
    end(method, call, ctx, began, error);
    return error;
  }
  const ref = randomBytes(4).toString("hex");
  end(method, call, ctx, began, error, { ref, cause: err });
  return new ConnectError(`internal error (reference ${ref}); the server log has the details`, Code.Internal);
}

/** The one log line of a call. */
function logCall(log: Logger, method: DescMethod, call: Call | undefined, ctx: CallContext, ms: number, error?: ConnectError, extra?: object): void {
  const fields = {
    method: `${method.parent.typeName}/${method.name}`,
    caller: call === undefined ? null : clip(call.caller.name),
    admin: call?.caller.admin ?? false,
    job: call?.jobId === undefined ? null : clip(call.jobId, 40),
    code: error ? codeName(error.code) : "ok",
    ms: Math.round(ms * 10) / 10,
    protocol: ctx.protocolName,
    ...(error ? { error: clip(error.rawMessage, 300) } : {}),
    ...extra,
  };
  if (error?.code === Code.Internal) log.error("rpc", fields);
  else log.info("rpc", fields);
}

function wireError(err: unknown, ctx: CallContext): ConnectError {
  // Work cut short by the call's signal (shutdown, deadline, client gone) reports the signal's reason, not how the
  // interrupted work happened to fail (e.g. core's "stop was aborted").
  // A signal aborted without a ConnectError (connect's HTTP/1.1 adapter on a closed request) is the client leaving.
  if (ctx.signal.aborted) return ctx.signal.reason instanceof ConnectError ? ctx.signal.reason : new ConnectError("client went away", Code.Canceled);
  if (err instanceof ConnectError) return err;
  if (err instanceof JobError) return new ConnectError(err.message, jobErrorCodes[err.code], undefined, undefined, err);
  return new ConnectError("internal error", Code.Internal, undefined, undefined, err);
}

/** A code's name as the logs and metrics give it: "not_found", "invalid_argument", ... */
export function codeName(code: Code): string {
  return Code[code].replace(/[A-Z]/g, (c, i: number) => (i === 0 ? "" : "_") + c.toLowerCase());
}
