// The gRPC frame of a StreamOutputResponse carrying an OutputChunk, encoded by hand so that the output bytes are never
// copied on their way to the HTTP/2 stream.

import { releaseChunk } from "@jobexec/core";
import type { FrameEncoder } from "./grpc-streaming.ts";

/** The fields of the OutputChunk in a StreamOutputResponse, as job-service.ts yields them. */
export interface OutputChunkFields {
  stream: number;
  offset: bigint;
  data: Uint8Array;
}

/** Output up to this size is copied into the frame (one write); larger output is a write of its own. */
export const inlineBytes = 16 * 1024;

const envelopeBytes = 5;
// Field keys: field number << 3 | wire type (0 varint, 2 length-delimited).
const chunkKey = (1 << 3) | 2; // StreamOutputResponse.chunk
const streamKey = (1 << 3) | 0; // OutputChunk.stream
const offsetKey = (2 << 3) | 0; // OutputChunk.offset
const dataKey = (3 << 3) | 2; // OutputChunk.data

// Frames of small chunks by chunk buffer: followers in step are handed the same buffer by core (one read for all of
// them), and so share one encoded frame. Weak: a frame lives as long as its chunk does.
const shared = new WeakMap<Uint8Array, { stream: number; offset: bigint; frame: Uint8Array }>();

/** Bytes of the varint of `n`, a whole number in [0, 2^53). */
function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

function writeVarint(buffer: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    buffer[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buffer[at++] = n;
  return at;
}

/**
 * The gRPC frame (5-byte envelope, then the message) of `StreamOutputResponse { chunk: chunk }`, byte for byte what
 * protobuf-es's toBinary and connect's envelope make: fields in number order, those at their default left out. A
 * chunk of up to {@link inlineBytes} is one buffer (shared by every caller with the same chunk buffer, offset and
 * stream); a larger one is two, the header and the chunk's own data. Undefined when the fields are out of what this
 * encoder handles (a stream that is not a small enum value, an offset that is not a safe non-negative integer): the
 * caller encodes those the generic way.
 */
export function outputFrame(chunk: OutputChunkFields): Uint8Array[] | undefined {
  const { stream, data } = chunk;
  // First, as it is the common case when many follow a job: the frame made for a follower before this one.
  const known = shared.get(data);
  if (known !== undefined && known.offset === chunk.offset && known.stream === stream) return [known.frame];
  const offset = Number(chunk.offset);
  if (!(data instanceof Uint8Array && Number.isSafeInteger(offset) && offset >= 0 && BigInt(offset) === chunk.offset && stream >= 0 && stream < 0x80 && Number.isInteger(stream))) {
    return undefined;
  }
  const inline = data.length <= inlineBytes;
  const chunkSize =
    (stream === 0 ? 0 : 2) + (offset === 0 ? 0 : 1 + varintSize(offset)) + (data.length === 0 ? 0 : 1 + varintSize(data.length) + data.length);
  const messageSize = 1 + varintSize(chunkSize) + chunkSize;
  if (messageSize > 0xffffffff) return undefined;
  const headerSize = envelopeBytes + messageSize - data.length;
  const frame = Buffer.allocUnsafe(inline ? headerSize + data.length : headerSize);
  frame[0] = 0; // not compressed
  frame.writeUInt32BE(messageSize, 1);
  let at = envelopeBytes;
  frame[at++] = chunkKey;
  at = writeVarint(frame, at, chunkSize);
  if (stream !== 0) {
    frame[at++] = streamKey;
    frame[at++] = stream;
  }
  if (offset !== 0) {
    frame[at++] = offsetKey;
    at = writeVarint(frame, at, offset);
  }
  if (data.length !== 0) {
    frame[at++] = dataKey;
    at = writeVarint(frame, at, data.length);
  }
  if (!inline) return [frame, data];
  frame.set(data, at);
  shared.set(data, { stream, offset: chunk.offset, frame });
  return [frame];
}

function chunkOf(message: unknown): OutputChunkFields | undefined {
  const event = (message as { event?: { case?: string; value?: OutputChunkFields } }).event;
  return event?.case === "chunk" ? event.value : undefined;
}

/**
 * StreamOutputResponse frames: {@link outputFrame} for chunks (the job's status is left to the generic encoding), and
 * each chunk's data released to core's buffer pool once written (core's releaseChunk).
 */
export const streamOutputFrames: FrameEncoder = {
  frame(message) {
    const chunk = chunkOf(message);
    return chunk === undefined ? undefined : outputFrame(chunk);
  },
  written(message) {
    const chunk = chunkOf(message);
    if (chunk !== undefined) releaseChunk(chunk.data);
  },
};
