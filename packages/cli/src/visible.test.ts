import assert from "node:assert/strict";
import { test } from "node:test";
import { visible } from "./visible.ts";

test("visible shows every control character as an escape and leaves the rest alone", () => {
  assert.equal(visible("\u001b]0;t\u0007\u001b[2J\r\n\t"), "\\e]0;t\\x07\\e[2J\\r\\n\\t");
  assert.equal(visible("\u0000\u007f\u009b31m"), "\\x00\\x7f\\x9b31m", "NUL, DEL and the 8-bit CSI");
  assert.equal(visible("a\u202eb\u2066c\u2028d"), "a\\u202eb\\u2066c\\u2028d", "bidirectional overrides, isolates, line separators");
  assert.equal(visible("sh -c 'echo \\e' ünï ✓ 日本"), "sh -c 'echo \\e' ünï ✓ 日本");
});
