import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { DependencyCondition, OutputMode, QueuePolicy } from "@jobexec/proto";
import { CliError } from "./errors.ts";
import { buildStartRequest, type FlagToken, parseAt } from "./start-request.ts";

const flags = (...pairs: [string, string][]): FlagToken[] => pairs.map(([flag, input]) => ({ flag, input }));

test("the command after -- is passed verbatim, arguments in order, duplicates kept", () => {
  const request = buildStartRequest([], ["sh", "-c", "echo $0 $1", "a", "--", "a", "-f", ""]);
  assert.equal(request.program, "sh");
  assert.deepEqual(request.args, ["-c", "echo $0 $1", "a", "--", "a", "-f", ""]);
  assert.equal(request.outputMode, OutputMode.UNSPECIFIED);
  assert.equal(request.workingDirectory, "");
  assert.deepEqual(request.env, {});
});

test("limits, env, cwd and merged output map to the request", () => {
  const request = buildStartRequest(
    flags(["cpu", "0.5"], ["cpu-weight", "200"], ["memory", "256Mi"], ["pids", "64"], ["env", "A=1"], ["env", "B=x=y"], ["env", "C="],
      ["env", "A=2"], ["cwd", "/tmp"], ["merge-output", "--merge-output"], ["server", "ignored:1"]),
    ["true"],
  );
  assert.equal(request.limits?.cpu, 0.5);
  assert.equal(request.limits?.cpuWeight, 200);
  assert.equal(request.limits?.memoryMaxBytes, 268_435_456n);
  assert.equal(request.limits?.pidsMax, 64n);
  assert.deepEqual(request.env, { A: "2", B: "x=y", C: "" });
  assert.equal(request.workingDirectory, "/tmp");
  assert.equal(request.outputMode, OutputMode.MERGED);
});

test("--env NAME takes NAME's value from our environment; --env and --env-file in order, the last one wins", () => {
  const dir = mkdtempSync(join(tmpdir(), "jobexec-env-"));
  try {
    const file = join(dir, "job.env");
    writeFileSync(file, "A=from file\nB=file\n");
    const request = buildStartRequest(flags(["env", "A=flag"], ["env-file", file], ["env", "TOKEN"], ["env", "B=flag"]), ["true"], { TOKEN: "s3cret=x" });
    assert.deepEqual(request.env, { A: "from file", B: "flag", TOKEN: "s3cret=x" });
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test("each IO rate applies to the nearest --io-device before it", () => {
  const request = buildStartRequest(
    flags(["io-device", "8:0"], ["io-read-bps", "10MB"], ["io-write-iops", "100"], ["cpu", "1"], ["io-device", "/dev/vda"], ["io-write-bps", "1Mi"], ["io-read-iops", "5"]),
    ["dd"],
  );
  const io = request.limits?.io.map(({ device, readBps, writeBps, readIops, writeIops }) => ({ device, readBps, writeBps, readIops, writeIops }));
  assert.deepEqual(io, [
    { device: "8:0", readBps: 10_000_000n, writeBps: undefined, readIops: undefined, writeIops: 100n },
    { device: "/dev/vda", readBps: undefined, writeBps: 1_048_576n, readIops: 5n, writeIops: undefined },
  ]);
});

test("bad command lines are usage errors, each with its own message", () => {
  const cases: [FlagToken[], string[], RegExp][] = [
    [[], [], /missing program/],
    [[], [""], /missing program/],
    [flags(["io-read-bps", "1M"]), ["x"], /--io-read-bps must come after the --io-device/],
    [flags(["io-device", "8:0"]), ["x"], /--io-device 8:0 has no limit/],
    [flags(["io-device", "8:0"], ["io-read-bps", "1M"], ["io-read-bps", "2M"]), ["x"], /given twice/],
    [flags(["io-device", " "], ["io-read-bps", "1M"]), ["x"], /--io-device: give a device/],
    [flags(["io-device", "8:0"], ["io-write-iops", "1.5"]), ["x"], /--io-write-iops: /],
    [flags(["env", "NOVALUE"]), ["x"], /--env NOVALUE: NOVALUE is not set in this environment; export it first, or give --env NOVALUE=VALUE or --env-file FILE/],
    [flags(["env", "A B"]), ["x"], /--env: "A B" is not NAME=VALUE or NAME: the name contains white space/],
    [flags(["env", "=v"]), ["x"], /--env: "=v" is not NAME=VALUE/],
    [flags(["env", "A=\0"]), ["x"], /NUL/],
    [flags(["cwd", "tmp"]), ["x"], /--cwd: "tmp" is not an absolute path/],
    [flags(["cpu-weight", "10001"]), ["x"], /1 to 10000/],
    [flags(["cpu-weight", "0"]), ["x"], /--cpu-weight/],
    [flags(["memory", "lots"]), ["x"], /--memory: "lots" is not a size/],
    [flags(["cpu", "0"]), ["x"], /--cpu: /],
  ];
  for (const [tokens, command, message] of cases) {
    assert.throws(() => buildStartRequest(tokens, command, {}), (e: unknown) => e instanceof CliError && e.code === "usage" && message.test(e.message), String(message));
  }
});

test("queue flags: --after ID[:ok|any|failed] in order, --delay and --at as not_before, --priority, --now", () => {
  const a = "0b6c1b2e-4f6d-4a3e-9a57-3f0f3f3c2d10";
  const b = "1f3c1b2e-4f6d-4a3e-9a57-3f0f3f3c2d10";
  const now = new Date(2026, 11, 7, 13, 30, 0);
  const request = buildStartRequest(flags(["after", a], ["after", `${b}:any`], ["after", `${a}:failed`], ["delay", "90s"], ["priority", "-7"], ["now", "--now"]), ["true"], {}, now);
  assert.deepEqual(request.startAfter.map((d) => [d.id, d.condition]), [[a, DependencyCondition.SUCCEEDED], [b, DependencyCondition.ENDED], [a, DependencyCondition.FAILED]]);
  assert.equal(timestampMs(request.notBefore ?? assert.fail("not_before")), now.getTime() + 90_000);
  assert.equal(request.priority, -7);
  assert.equal(request.queuePolicy, QueuePolicy.REFUSE);
  assert.equal(parseAt("14:00", "--at", now), new Date(2026, 11, 7, 14, 0, 0).getTime(), "later today");
  assert.equal(parseAt("13:00:30", "--at", now), new Date(2026, 11, 8, 13, 0, 30).getTime(), "tomorrow once past");
  assert.equal(parseAt("2026-12-08T14:00:00Z", "--at", now), Date.UTC(2026, 11, 8, 14));
  for (const [flag, input, message] of [
    ["after", `${a}:sometimes`, /^--after: ".*:sometimes" is not ID\[:ok\|any\|failed\]/],
    ["priority", "1001", /^--priority: "1001" is not a whole number from -1000 to 1000$/],
    ["at", "25:00", /^--at: "25:00" is not a time of day$/],
    ["at", "tomorrow", /^--at: "tomorrow" is not a time: use HH:MM\[:SS\]/],
  ] as const) {
    assert.throws(() => buildStartRequest(flags([flag, input]), ["true"], {}, now), (err: unknown) => err instanceof CliError && err.code === "usage" && message.test(err.message));
  }
  assert.throws(() => buildStartRequest(flags(["delay", "1m"], ["at", "14:00"]), ["true"], {}, now), { message: "give one of --at and --delay" });
});
