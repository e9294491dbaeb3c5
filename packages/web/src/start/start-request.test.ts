import assert from "node:assert/strict";
import { test } from "node:test";
import { emptyFields, parseDuration, parseSize, parseStartFields } from "./start-request.ts";

test("sizes and durations as the CLI writes them", () => {
  assert.equal(parseSize("512M"), 512n * 1024n * 1024n);
  assert.equal(parseSize("2GiB"), 2n * 1024n ** 3n);
  assert.equal(parseSize("1kb"), 1000n);
  assert.equal(parseSize("12 apples"), undefined);
  assert.equal(parseSize("0"), undefined);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("10"), undefined);
});

test("the form becomes a request: arguments a line each, verbatim; bad fields are named", () => {
  const parsed = parseStartFields({ ...emptyFields, program: "sh", args: "-c\necho  $X <b>\n", env: "X=1=2", memory: "64M", timeout: "30s", privateTmp: "on", after: "abc:any" });
  assert.ok("request" in parsed);
  assert.deepEqual(parsed.request.args, ["-c", "echo  $X <b>"]);
  assert.deepEqual(parsed.request.env, { X: "1=2" });
  assert.equal(parsed.request.limits?.memoryMaxBytes, 64n * 1024n * 1024n);
  assert.equal(parsed.request.timeout?.seconds, 30n);
  assert.deepEqual(parsed.request.isolation, { privateNetwork: undefined, privateTmp: true, readOnlySystem: undefined });
  assert.equal(parsed.request.startAfter?.[0]?.id, "abc");
  assert.deepEqual(parseStartFields({ ...emptyFields }), { field: "program", error: "a program to run is required" });
  assert.equal((parseStartFields({ ...emptyFields, program: "x", env: "novalue" }) as { field: string }).field, "env");
  assert.equal((parseStartFields({ ...emptyFields, program: "x", cpu: "-1" }) as { field: string }).field, "cpu");
});
