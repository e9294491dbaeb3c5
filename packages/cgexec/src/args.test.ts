import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CgexecError, parseOptions, parseTarget } from "./cgexec.ts";

describe("parseOptions", () => {
  it("stops at the first operand and leaves the rest to the target", () => {
    const args = ["--status-fd=3", "/cg", "cmd", "--status-fd=4", "--help"];
    assert.deepEqual(parseOptions(args), { help: false, statusFd: 3, account: undefined, noCgroup: false, isolation: undefined, operands: 1 });
    assert.deepEqual(parseTarget(args.slice(1)), { cgroupDir: "/cg", argv: ["cmd", "--status-fd=4", "--help"] });
  });

  it("accepts --status-fd N as two words and -- as the end of options", () => {
    assert.deepEqual(parseOptions(["--status-fd", "7", "--", "-cg", "x"]), { help: false, statusFd: 7, account: undefined, noCgroup: false, isolation: undefined, operands: 3 });
  });

  it("recognises --help and -h before the operands", () => {
    assert.equal(parseOptions(["--help"]).help, true);
    assert.equal(parseOptions(["-h", "/cg", "x"]).help, true);
    assert.equal(parseOptions(["/cg", "x", "--help"]).help, false);
  });

  it("rejects unknown options and bad descriptors with code 125", () => {
    for (const args of [["-x", "/cg", "cmd"], ["--status-fd=2", "/cg", "cmd"], ["--status-fd=abc"], ["--status-fd"]]) {
      assert.throws(() => parseOptions(args), (err: unknown) => err instanceof CgexecError && err.code === 125, args.join(" "));
    }
  });
});

describe("account options", () => {
  it("reads --uid, --gid and --groups in either form", () => {
    assert.deepEqual(parseOptions(["--uid=61184", "--gid", "61185", "--groups=4,27", "/cg", "cmd"]), {
      help: false,
      statusFd: undefined,
      account: { uid: 61184, gid: 61185, groups: [4, 27] },
      noCgroup: false,
      isolation: undefined,
      operands: 4,
    });
    assert.deepEqual(parseOptions(["--uid=0", "--gid=0", "/cg", "cmd"]).account, { uid: 0, gid: 0, groups: [] });
    assert.deepEqual(parseOptions(["--uid=1", "--gid=1", "--groups=", "/cg", "cmd"]).account, { uid: 1, gid: 1, groups: [] });
  });

  it("rejects a uid without a gid, groups without ids, and ids that are not 32-bit numbers", () => {
    const bad: [string[], RegExp][] = [
      [["--uid=5", "/cg", "cmd"], /--uid and --gid go together/],
      [["--gid=5", "/cg", "cmd"], /--uid and --gid go together/],
      [["--groups=5", "/cg", "cmd"], /--groups needs --uid and --gid/],
      [["--uid=alice", "--gid=5"], /--uid needs a numeric id from 0 to 4294967294, got "alice"/],
      [["--uid=-1", "--gid=5"], /--uid needs a numeric id/],
      [["--uid=4294967295", "--gid=5"], /--uid needs a numeric id/],
      [["--uid=1", "--gid=1", "--groups=1,,2"], /--groups needs a numeric id from 0 to 4294967294, got ""/],
      [["--uid"], /--uid needs a numeric id from 0 to 4294967294, got ""/],
    ];
    for (const [args, message] of bad) {
      assert.throws(() => parseOptions(args), (err: unknown) => err instanceof CgexecError && err.code === 125 && message.test(err.message), args.join(" "));
    }
  });

  it("--no-cgroup takes COMMAND as the first operand", () => {
    const args = ["--no-cgroup", "--uid=1", "--gid=2", "cmd", "a"];
    const options = parseOptions(args);
    assert.deepEqual([options.noCgroup, options.operands], [true, 3]);
    assert.deepEqual(parseTarget(args.slice(options.operands), true), { cgroupDir: undefined, argv: ["cmd", "a"] });
    assert.throws(() => parseTarget([], true), /missing COMMAND/);
  });
});

describe("parseTarget", () => {
  it("keeps ARGS verbatim, empty strings included", () => {
    assert.deepEqual(parseTarget(["/cg", "cmd", "", " a b ", "--"]).argv, ["cmd", "", " a b ", "--"]);
  });

  it("requires CGROUP_DIR and COMMAND", () => {
    assert.throws(() => parseTarget([]), /missing CGROUP_DIR and COMMAND/);
    assert.throws(() => parseTarget(["/cg"]), /missing COMMAND/);
    assert.throws(() => parseTarget(["", "cmd"]), /empty CGROUP_DIR/);
  });
});
