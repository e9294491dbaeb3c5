import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  JobService,
  StartJobRequestSchema,
  StreamOutputResponseSchema,
  OutputStream,
  Health,
} from "./index.ts";

const root = join(import.meta.dirname, "../../..");
const generated = join(import.meta.dirname, "gen");

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

test("committed generated code matches a fresh buf generate", () => {
  const out = mkdtempSync(join(tmpdir(), "jobexec-proto-"));
  try {
    const template = readFileSync(join(root, "buf.gen.yaml"), "utf8").replace("out: packages/proto/src/gen", `out: ${out}`);
    const templatePath = join(out, "buf.gen.yaml");
    writeFileSync(templatePath, template);
    execFileSync(join(root, "node_modules/.bin/buf"), ["generate", "--template", templatePath], { cwd: root, stdio: "pipe" });
    const fresh = files(out).filter((f) => f !== "buf.gen.yaml");
    assert.deepEqual(fresh, files(generated));
    for (const f of fresh) {
      assert.equal(readFileSync(join(generated, f), "utf8"), readFileSync(join(out, f), "utf8"), `${f} is stale: run pnpm generate`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("JobService has the eight RPCs, StreamOutput and WatchJobs server-streaming", () => {
  assert.deepEqual(Object.keys(JobService.method).sort(), ["deleteJob", "getJob", "getQueueSummary", "listJobs", "startJob", "stopJob", "streamOutput", "watchJobs"]);
  assert.equal(JobService.method.streamOutput.methodKind, "server_streaming");
  assert.equal(JobService.method.watchJobs.methodKind, "server_streaming");
  assert.equal(Health.typeName, "grpc.health.v1.Health");
});

test("messages round-trip through the wire format, 64-bit counts as bigint", () => {
  const req = create(StartJobRequestSchema, {
    program: "slow",
    args: ["", "a b", "ünïcode"],
    env: { K: "v=1" },
    limits: { cpu: 0.5, memoryMaxBytes: 2n ** 40n, io: [{ device: "254:0", writeBps: 1_000_000n }] },
  });
  const back = fromBinary(StartJobRequestSchema, toBinary(StartJobRequestSchema, req));
  assert.deepEqual(back.args, ["", "a b", "ünïcode"]);
  assert.equal(back.limits?.memoryMaxBytes, 2n ** 40n);
  assert.equal(back.limits?.pidsMax, undefined);
  const chunk = create(StreamOutputResponseSchema, {
    event: { case: "chunk", value: { stream: OutputStream.STDERR, offset: 7n, data: new Uint8Array([0, 255]) } },
  });
  const decoded = fromBinary(StreamOutputResponseSchema, toBinary(StreamOutputResponseSchema, chunk));
  assert.equal(decoded.event.case, "chunk");
  assert.deepEqual(decoded.event.value, chunk.event.value);
});
