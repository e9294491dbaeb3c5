import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { JobSchema, OutputStream, StreamOutputResponseSchema } from "@jobexec/proto";
import { inlineBytes, outputFrame, streamOutputFrames, type OutputChunkFields } from "./output-frame.ts";

/** What protobuf-es and connect make of the same message: the reference the hand encoding must equal. */
function reference(chunk: OutputChunkFields & { stream: OutputStream }): Buffer {
  const message = create(StreamOutputResponseSchema, { event: { case: "chunk", value: chunk } });
  return Buffer.from(encodeEnvelope(0, toBinary(StreamOutputResponseSchema, message)));
}

const offsets = [0n, 1n, 127n, 128n, 16_383n, 16_384n, 2n ** 31n, 2n ** 32n + 5n, BigInt(Number.MAX_SAFE_INTEGER)];
const sizes = [0, 1, 127, 128, 300, inlineBytes - 1, inlineBytes, inlineBytes + 1, 2 ** 16, 2 ** 20];

test("frames are byte for byte protobuf-es's encoding in connect's envelope, and decode to the same fields", () => {
  let cases = 0;
  for (const stream of [OutputStream.UNSPECIFIED, OutputStream.STDOUT, OutputStream.STDERR]) {
    for (const offset of offsets) {
      for (const size of sizes) {
        const chunk = { stream, offset, data: randomBytes(size) };
        const frame = Buffer.concat(outputFrame(chunk) ?? assert.fail("not encoded"));
        assert.deepEqual(frame, reference(chunk), `stream ${stream}, offset ${offset}, ${size} bytes`);
        assert.equal(frame.readUInt32BE(1), frame.length - 5);
        const decoded = fromBinary(StreamOutputResponseSchema, frame.subarray(5));
        assert.equal(decoded.event.case, "chunk");
        assert.equal(decoded.event.value?.stream, stream);
        assert.equal(decoded.event.value?.offset, offset);
        assert.deepEqual(Buffer.from(decoded.event.value?.data ?? []), Buffer.from(chunk.data));
        cases++;
      }
    }
  }
  assert.equal(cases, 3 * offsets.length * sizes.length);
});

test("large data is written as it is, after a header; small data is copied into one buffer", () => {
  const big = randomBytes(inlineBytes + 1);
  const pieces = outputFrame({ stream: OutputStream.STDOUT, offset: 10n, data: big }) ?? [];
  assert.equal(pieces.length, 2);
  assert.equal(pieces[1], big, "the very buffer, not a copy");
  assert.ok((pieces[0]?.length ?? 0) < 32);
  const small = randomBytes(inlineBytes);
  assert.equal(outputFrame({ stream: OutputStream.STDOUT, offset: 10n, data: small })?.length, 1);
});

test("followers in step (the same chunk buffer, offset and stream) share one frame; any difference makes a new one", () => {
  const data = Buffer.from("a line\n");
  const first = outputFrame({ stream: OutputStream.STDOUT, offset: 7n, data })?.[0];
  assert.equal(outputFrame({ stream: OutputStream.STDOUT, offset: 7n, data })?.[0], first);
  const moved = outputFrame({ stream: OutputStream.STDOUT, offset: 8n, data })?.[0];
  assert.notEqual(moved, first);
  assert.deepEqual(Buffer.from(moved ?? []), reference({ stream: OutputStream.STDOUT, offset: 8n, data }));
  const other = outputFrame({ stream: OutputStream.STDERR, offset: 8n, data })?.[0];
  assert.deepEqual(Buffer.from(other ?? []), reference({ stream: OutputStream.STDERR, offset: 8n, data }));
  const copy = outputFrame({ stream: OutputStream.STDERR, offset: 8n, data: Buffer.from(data) })?.[0];
  assert.notEqual(copy, other);
  assert.deepEqual(copy, other);
});

test("fields out of the hand encoding's range are left to the generic encoding", () => {
  const data = Buffer.from("x");
  assert.equal(outputFrame({ stream: OutputStream.STDOUT, offset: -1n, data }), undefined);
  assert.equal(outputFrame({ stream: OutputStream.STDOUT, offset: 2n ** 53n, data }), undefined);
  assert.equal(outputFrame({ stream: 200 as OutputStream, offset: 0n, data }), undefined);
  assert.equal(outputFrame({ stream: -1 as OutputStream, offset: 0n, data }), undefined);
  const job = create(StreamOutputResponseSchema, { event: { case: "job", value: create(JobSchema, { id: "x" }) } });
  assert.equal(streamOutputFrames.frame(job), undefined, "the job's status goes the generic way");
  assert.equal(streamOutputFrames.frame({ event: { case: "chunk", value: { stream: OutputStream.STDOUT, offset: 0n, data } } })?.length, 1);
});
