import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseArgs } from "./args.ts";
import { SlowError } from "./slow-error.ts";

describe("parseArgs", () => {
  it("has the documented defaults", () => {
    const { help, lines, code, interval, bytes, firstLine, ignoreTerm, background, fork, alloc, spin } = parseArgs(["3"]);
    assert.deepEqual([lines, code, interval, bytes, fork, alloc, spin], [3, 0, 1000, undefined, 0, 0, 0]);
    assert.deepEqual([help, firstLine, ignoreTerm, background], [false, false, false, false]);
  });

  it("reads every option, as two words or with =, in any position", () => {
    const options = parseArgs(["--interval=0", "2", "--fork", "3", "7", "--alloc=5", "--spin", "0.5", "--first-line", "--ignore-term", "--background"]);
    assert.deepEqual(options, {
      help: false,
      lines: 2,
      code: 7,
      interval: 0,
      bytes: undefined,
      firstLine: true,
      ignoreTerm: true,
      background: true,
      fork: 3,
      alloc: 5,
      spin: 0.5,
    });
  });

  it("takes the one positional after --bytes as CODE", () => {
    assert.deepEqual([parseArgs(["--bytes", "10"]).bytes, parseArgs(["--bytes", "10"]).code], [10, 0]);
    assert.deepEqual([parseArgs(["4", "--bytes=10"]).lines, parseArgs(["4", "--bytes=10"]).code], [0, 4]);
  });

  it("rejects bad arguments with SlowError (exit status 2)", () => {
    const bad = [[], ["x"], ["-1"], ["1.5"], ["1", "256"], ["1", "2", "3"], ["--interval"], ["1", "--interval", "soon"], ["1", "--bogus"], ["1", "--fork=-2"], ["0", "1", "--bytes", "10"], ["1", "--first-line=yes"]];
    for (const args of bad) {
      assert.throws(() => parseArgs(args), (err: unknown) => err instanceof SlowError && err.code === 2, JSON.stringify(args));
    }
  });
});
