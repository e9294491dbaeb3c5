// A lean StreamOutput client for the fan-out figure: node:http2, the gRPC envelope and protobuf-es's decoding of each
// message, without connect-node's per-call pipeline, so that a thousand followers cost their client processes little
// next to the server they measure.
import { connect, constants, type ClientHttp2Session } from "node:http2";
import { once } from "node:events";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { OutputStream, StreamOutputRequestSchema, StreamOutputResponseSchema, type Job } from "@jobexec/proto";
import { BenchError } from "./error.ts";
import type { Tls } from "./tls.ts";

const envelopeBytes = 5;

/** An HTTP/2 connection to the server at `url` with the bench's client certificate, once connected. */
export async function openSession(url: string, tls: Pick<Tls, "ca" | "clientCert" | "clientKey">): Promise<ClientHttp2Session> {
  const session = connect(url, { ca: tls.ca, cert: tls.clientCert, key: tls.clientKey });
  await Promise.race([once(session, "connect"), once(session, "error").then(([error]) => Promise.reject(error as Error))]);
  return session;
}

/**
 * Follows a job's stdout from the start to the end of the stream over `session`, checking that chunks are
 * contiguous and that the call ends with grpc-status 0; `onChunk` sees each chunk's data as it arrives.
 */
export async function leanFollow(session: ClientHttp2Session, id: string, onChunk: (data: Uint8Array) => void): Promise<{ bytes: number; job: Job }> {
  const request = toBinary(StreamOutputRequestSchema, create(StreamOutputRequestSchema, { id, follow: true, stream: OutputStream.STDOUT }));
  const body = Buffer.alloc(envelopeBytes + request.length);
  body.writeUInt32BE(request.length, 1);
  body.set(request, envelopeBytes);
  const stream = session.request({
    [constants.HTTP2_HEADER_METHOD]: "POST",
    [constants.HTTP2_HEADER_PATH]: "/jobexec.v1.JobService/StreamOutput",
    "content-type": "application/grpc",
    te: "trailers",
  });
  stream.end(body);
  let status: string | undefined;
  let message = "";
  const onStatus = (headers: Record<string, unknown>): void => {
    if (headers["grpc-status"] !== undefined) {
      status = String(headers["grpc-status"]);
      message = decodeURIComponent(String(headers["grpc-message"] ?? ""));
    }
  };
  stream.on("response", onStatus); // (trailers-only responses carry the status in the headers)
  stream.on("trailers", onStatus);
  let bytes = 0;
  let job: Job | undefined;
  // The bytes of a message that spans DATA frames, until it is whole.
  let pending: Buffer | undefined;
  const take = (frame: Buffer): void => {
    const event = fromBinary(StreamOutputResponseSchema, frame).event;
    if (event.case === "chunk") {
      if (event.value.offset !== BigInt(bytes)) throw new BenchError("workload", `job ${id}: chunk at offset ${event.value.offset} after ${bytes} bytes`);
      bytes += event.value.data.length;
      onChunk(event.value.data);
    } else if (event.case === "job") {
      job = event.value;
    }
  };
  for await (const data of stream as AsyncIterable<Buffer>) {
    let buffer = pending === undefined ? data : Buffer.concat([pending, data]);
    pending = undefined;
    while (buffer.length >= envelopeBytes) {
      const end = envelopeBytes + buffer.readUInt32BE(1);
      if (buffer.length < end) break;
      take(buffer.subarray(envelopeBytes, end));
      buffer = buffer.subarray(end);
    }
    if (buffer.length > 0) pending = buffer;
  }
  if (status !== "0") throw new BenchError("workload", `job ${id}: StreamOutput ended with grpc-status ${status ?? "(none)"} ${message}`);
  if (pending !== undefined) throw new BenchError("workload", `job ${id}: the stream ended inside a message`);
  if (job === undefined) throw new BenchError("workload", `job ${id}: the stream ended without the job's status`);
  return { bytes, job };
}
