import { randomBytes } from "node:crypto";
import type {
  DescMethod,
  DescMethodServerStreaming,
  DescMethodUnary,
  DescService,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { JobError, type JobErrorCode } from "@jobexec/core";
import { ServerError } from "./error.ts";
import { peerKey, type Caller } from "./identity.ts";
import type { Logger } from "./log.ts";

/** What a guarded handler knows about its call. */
export interface Call {
  readonly caller: Caller;
  /** Aborted when the client goes away, the deadline passes, or the server shuts down. */
  readonly signal: AbortSignal;
  /** The job the call concerns, for its log line; set by handlers that learn it. */
  jobId?: string;
}

type GuardedMethod<M> =
  M extends DescMethodUnary<infer I, infer O>
    ? (req: MessageShape<I>, call: Call) => Promise<MessageInitShape<O>>
    : M extends DescMethodServerStreaming<infer I, infer O>
      ? (req: MessageShape<I>, call: Call) => AsyncIterable<MessageInitShape<O>>
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

/**
 * Wraps a whole service implementation so that no handler runs without an authenticated caller: the caller comes
 * from the connection's client certificate (a context value set by the adapter, which service options cannot drop),
 * every error leaves as a ConnectError with a code and a sentence (never a stack or an internal path), and every call
 * gets one log line with caller, method, job id, result code and duration.
 */
export function guard<S extends DescService>(service: S, impl: GuardedImpl<S>, log: Logger): ServiceImpl<S> {
  const handlers: Record<string, unknown> = {};
  for (const method of service.methods) {
    const handler = (impl as Record<string, unknown>)[method.localName];
    if (method.methodKind === "unary") {
      const unary = handler as (req: unknown, call: Call) => Promise<unknown>;
      handlers[method.localName] = async (req: unknown, ctx: HandlerContext) => {
        const began = performance.now();
        let call: Call | undefined;
        try {
          call = open(ctx);
          const res = await unary(req, call);
          logCall(log, method, call, ctx, began);
          return res;
        } catch (err) {
          throw failed(log, method, call, ctx, began, err);
        }
      };
    } else if (method.methodKind === "server_streaming") {
      const streaming = handler as (req: unknown, call: Call) => AsyncIterable<unknown>;
      handlers[method.localName] = async function* (req: unknown, ctx: HandlerContext) {
        const began = performance.now();
        let call: Call | undefined;
        let ended = false;
        try {
          call = open(ctx);
          yield* streaming(req, call);
          ended = true;
          logCall(log, method, call, ctx, began);
        } catch (err) {
          ended = true;
          throw failed(log, method, call, ctx, began, err);
        } finally {
          // A client that goes away ends the generator through return(): neither branch above ran.
          if (!ended) logCall(log, method, call, ctx, began, new ConnectError("client went away", Code.Canceled));
        }
      };
    } else {
      throw new ServerError("internal", `guard: ${method.methodKind} methods are not supported`);
    }
  }
  return handlers as ServiceImpl<S>;
}

function open(ctx: HandlerContext): Call {
  // A shutdown that began before this request arrived: answer with its reason rather than starting work.
  if (ctx.signal.aborted) throw ctx.signal.reason;
  const peer = ctx.values.get(peerKey);
  if ("refusal" in peer) throw new ConnectError(peer.refusal, Code.Unauthenticated);
  return { caller: peer.caller, signal: ctx.signal };
}

/** Logs a failed call and returns the error to send: internal errors are logged in full and sent as a reference. */
function failed(log: Logger, method: DescMethod, call: Call | undefined, ctx: HandlerContext, began: number, err: unknown): ConnectError {
  const error = wireError(err, ctx);
  if (error.code !== Code.Internal) {
    logCall(log, method, call, ctx, began, error);
    return error;
  }
  const ref = randomBytes(4).toString("hex");
  logCall(log, method, call, ctx, began, error, { ref, cause: err });
  return new ConnectError(`internal error (reference ${ref}); the server log has the details`, Code.Internal);
}

/** The one log line of a call. */
function logCall(log: Logger, method: DescMethod, call: Call | undefined, ctx: HandlerContext, began: number, error?: ConnectError, extra?: object): void {
  const fields = {
    method: `${method.parent.typeName}/${method.name}`,
    caller: call?.caller.name ?? null,
    admin: call?.caller.admin ?? false,
    job: call?.jobId ?? null,
    code: error ? codeName(error.code) : "ok",
    ms: Math.round((performance.now() - began) * 10) / 10,
    protocol: ctx.protocolName,
    ...(error ? { error: error.rawMessage } : {}),
    ...extra,
  };
  if (error?.code === Code.Internal) log.error("rpc", fields);
  else log.info("rpc", fields);
}

function wireError(err: unknown, ctx: HandlerContext): ConnectError {
  // Work cut short by the call's signal (shutdown, deadline, client gone) reports the signal's reason, not how the
  // interrupted work happened to fail (e.g. core's "stop was aborted").
  if (ctx.signal.aborted && ctx.signal.reason instanceof ConnectError) return ctx.signal.reason;
  if (err instanceof ConnectError) return err;
  if (err instanceof JobError) return new ConnectError(err.message, jobErrorCodes[err.code], undefined, undefined, err);
  return new ConnectError("internal error", Code.Internal, undefined, undefined, err);
}

function codeName(code: Code): string {
  return Code[code].replace(/[A-Z]/g, (c, i: number) => (i === 0 ? "" : "_") + c.toLowerCase());
}
