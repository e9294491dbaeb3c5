import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CgexecError, parseOptions, parseTarget } from "./cgexec.ts";

describe("parseOptions", () => {
  it("stops at the first operand and leaves the rest to the target", () => {
    const args = ["--status-fd=3", "/cg", "cmd", "--status-fd=4", "--help"];
    assert.deepEqual(parseOptions(args), { help: false, statusFd: 3, operands: 1 });
    assert.deepEqual(parseTarget(args.slice(1)), { cgroupDir: "/cg", argv: ["cmd", "--status-fd=4", "--help"] });
  });

  it("accepts --status-fd N as two words and -- as the end of options", () => {
    assert.deepEqual(parseOptions(["--status-fd", "7", "--", "-cg", "x"]), { help: false, statusFd: 7, operands: 3 });
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
