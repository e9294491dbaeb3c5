import assert from "node:assert/strict";
import { test } from "node:test";
import { initialState, parseLine } from "./ansi.ts";
import { findLines, highlight } from "./search.ts";

test("lines are found ignoring case", () => {
  assert.deepEqual(findLines([{ text: "Error: x" }, { text: "ok" }, { text: "an error" }], "ERROR"), [0, 2]);
  assert.deepEqual(findLines([{ text: "a" }], ""), []);
});

test("matches are cut out of styled runs, across run boundaries, keeping each run's style", () => {
  const segments = parseLine("ab\x1b[31mcdAB\x1b[0mab", initialState());
  const pieces = highlight(segments, "abcdABab", "bc");
  assert.deepEqual(pieces.map((p) => [p.text, p.match, p.segment.style.fg]), [
    ["a", false, undefined],
    ["b", true, undefined],
    ["c", true, 1],
    ["dAB", false, 1],
    ["ab", false, undefined],
  ]);
  assert.deepEqual(highlight(segments, "abcdABab", "ab").filter((p) => p.match).map((p) => p.text), ["ab", "AB", "ab"]);
});
