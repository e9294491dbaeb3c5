import assert from "node:assert/strict";
import { test } from "node:test";
import { visible } from "./visible.ts";

test("control characters and bidirectional overrides are shown as escapes", () => {
  assert.equal(visible("a\x1b[31mb\rc\n\x07"), "a\\e[31mb\\rc\\n\\x07");
  assert.equal(visible("evil\u202egnp.exe"), "evil\\u202egnp.exe");
  assert.equal(visible("<b>plain</b> é"), "<b>plain</b> é");
});
