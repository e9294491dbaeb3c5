import type { ServerResponse } from "node:http";
import type { DescService } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import { peerOfRequest } from "../network/identity.ts";

type Fallback = NonNullable<ConnectNodeAdapterOptions["fallback"]>;
type NodeServerRequest = Parameters<Fallback>[0];
type NodeServerResponse = Parameters<Fallback>[1];

/**
 * The Connect adapter's fallback for a server of `services`: a request for a method or service it does not have is
 * answered with gRPC status UNIMPLEMENTED in the shape of the caller's protocol instead of a bare HTTP 404:
 * - gRPC: trailers-only, one HEADERS frame with `grpc-status: 12` that ends the stream;
 * - gRPC-Web: HTTP 200 with the status in the headers and no body;
 * - Connect streaming: HTTP 200 with an end-of-stream message carrying the error;
 * - Connect unary (and anything else): HTTP 501 with the Connect error JSON.
 * A caller whose certificate the server refuses gets UNAUTHENTICATED the same way, as from every method (and one
 * over a connection limit RESOURCE_EXHAUSTED).
 */
export function unknownMethod(services: readonly DescService[]): Fallback {
  return (req, res) => {
    const peer = peerOfRequest(req);
    const [code, message] =
      "refusal" in peer
        ? [peer.exhausted === true ? Code.ResourceExhausted : Code.Unauthenticated, peer.refusal]
        : [Code.Unimplemented, whatIsUnknown(services, req.url ?? "")];
    answer(req, res, code, message);
  };
}

/** The sentence for a path that is no method: which service is unknown, or which method of a known service. */
function whatIsUnknown(services: readonly DescService[], url: string): string {
  const path = url.split("?")[0] ?? "";
  const [, serviceName, methodName] = /^\/([^/]+)\/([^/]+)$/.exec(path) ?? [];
  const service = services.find((s) => s.typeName === serviceName);
  if (service !== undefined) return `unknown method ${JSON.stringify(methodName?.slice(0, 200))} of service ${service.typeName}`;
  const served = `this server serves ${services.map((s) => s.typeName).join(", ")}`;
  return serviceName === undefined ? `${JSON.stringify(path.slice(0, 200))} is not an RPC path (/SERVICE/METHOD); ${served}` : `unknown service ${JSON.stringify(serviceName.slice(0, 200))}; ${served}`;
}

function answer(req: NodeServerRequest, res: NodeServerResponse, code: Code, message: string): void {
  // The request body is not needed; reading it lets an HTTP/1.1 connection carry on.
  req.resume();
  const type = String(req.headers["content-type"] ?? "");
  if (/^application\/grpc/.test(type)) {
    // gRPC and gRPC-Web alike.
    respond(req, res, 200, { "content-type": type, "grpc-status": String(code), "grpc-message": encodeURIComponent(message) });
  } else if (/^application\/connect\+/.test(type)) {
    const json = Buffer.from(JSON.stringify({ error: { code: connectCodes[code], message } }));
    const envelope = Buffer.alloc(5);
    envelope.writeUInt8(0b10, 0); // end of stream
    envelope.writeUInt32BE(json.length, 1);
    respond(req, res, 200, { "content-type": type }, Buffer.concat([envelope, json]));
  } else {
    const status = code === Code.Unimplemented ? 501 : 401;
    respond(req, res, status, { "content-type": "application/json" }, Buffer.from(JSON.stringify({ code: connectCodes[code], message })));
  }
}

const connectCodes: Partial<Record<Code, string>> = { [Code.Unimplemented]: "unimplemented", [Code.Unauthenticated]: "unauthenticated" };

function respond(req: NodeServerRequest, res: NodeServerResponse, status: number, headers: Record<string, string>, body?: Buffer): void {
  const length = body === undefined ? {} : { "content-length": String(body.length) };
  if ("stream" in req) {
    if (req.stream.destroyed) return;
    // HTTP/2. An empty response is a single HEADERS frame that ends the stream (gRPC's trailers-only form): the
    // compatibility API would send the headers, then an empty DATA frame.
    req.stream.respond({ ":status": status, ...headers, ...length }, { endStream: body === undefined });
    if (body !== undefined) req.stream.end(body);
    return;
  }
  (res as ServerResponse).writeHead(status, { ...headers, ...length }).end(body);
}
