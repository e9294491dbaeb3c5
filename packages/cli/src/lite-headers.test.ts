import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LiteHeaders } from "./lite-headers.ts";

// Every operation is run on LiteHeaders and on Node's own Headers; the results must be the same.
type Op = (h: Headers) => unknown;

function both(init: ConstructorParameters<typeof Headers>[0] | undefined, op: Op): { ours: unknown; node: unknown } {
  const outcome = (make: () => Headers) => {
    try {
      const h = make();
      return { value: op(h), entries: [...h] };
    } catch (error) {
      return { error: (error as Error).constructor.name };
    }
  };
  return { ours: outcome(() => new LiteHeaders(init as never)), node: outcome(() => new Headers(init)) };
}

describe("LiteHeaders behaves as the Fetch standard's Headers", () => {
  const inits: [string, ConstructorParameters<typeof Headers>[0] | undefined][] = [
    ["nothing", undefined],
    ["pairs", [["B", "1"], ["a", " 2\t"], ["b", "3"], ["Set-Cookie", "x=1"], ["set-cookie", "y=2"]]],
    ["a record", { "Content-Type": "application/grpc", "grpc-timeout": "5S" }],
    ["another Headers", new Headers([["x-a", "1"], ["x-a", "2"]])],
    ["a bad name", [["a b", "1"]]],
    ["a bad value", [["a", "1\n2"]]],
    ["a short pair", [["a"]] as unknown as [string, string][]],
  ];
  const ops: [string, Op][] = [
    ["iteration", (h) => [...h]],
    ["get", (h) => [h.get("b"), h.get("B"), h.get("missing"), h.get("set-cookie")]],
    ["getSetCookie", (h) => h.getSetCookie()],
    ["has", (h) => [h.has("a"), h.has("A"), h.has("zz")]],
    ["set, then delete", (h) => (h.set("B", "x"), h.delete("a"), [...h])],
    ["append", (h) => (h.append("grpc-status", "0"), h.append("Grpc-Status", "1"), h.get("grpc-status"))],
    ["forEach", (h) => { const seen: string[] = []; h.forEach((v, k, o) => seen.push(`${k}=${v}:${o === h}`)); return seen; }],
    ["keys and values", (h) => [[...h.keys()], [...h.values()]]],
    ["a bad name to get", (h) => h.get("a b")],
    ["a bad value to set", (h) => h.set("a", "x\ry")],
    ["toString tag", (h) => Object.prototype.toString.call(h)],
  ];
  for (const [what, init] of inits) {
    for (const [name, op] of ops) {
      test(`${name}, made from ${what}`, () => {
        const { ours, node } = both(init, op);
        assert.deepEqual(ours, node);
      });
    }
  }
});
