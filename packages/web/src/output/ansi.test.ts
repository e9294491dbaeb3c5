import assert from "node:assert/strict";
import { test } from "node:test";
import { initialState, isWebLink, parseLine, plainText, type Segment } from "./ansi.ts";

const parse = (line: string): Segment[] => parseLine(line, initialState());

test("SGR colours and attributes become styles; reset ends them", () => {
  assert.deepEqual(parse("a\x1b[1;31mred\x1b[0m b"), [
    { text: "a", style: {} },
    { text: "red", style: { bold: true, fg: 1 } },
    { text: " b", style: {} },
  ]);
  assert.deepEqual(parse("\x1b[38;5;208mo\x1b[48;2;1;2;255mt\x1b[39;49m"), [
    { text: "o", style: { fg: 208 } },
    { text: "t", style: { fg: 208, bg: "#0102ff" } },
  ]);
  assert.deepEqual(parse("\x1b[38:2::10:20:30mx\x1b[92my"), [
    { text: "x", style: { fg: "#0a141e" } },
    { text: "y", style: { fg: 10 } },
  ]);
  assert.deepEqual(parse("\x1b[mplain\x1b[4m_\x1b[24m."), [
    { text: "plain", style: {} },
    { text: "_", style: { underline: true } },
    { text: ".", style: {} },
  ]);
});

test("the style carries over to the next line of the stream", () => {
  const state = initialState();
  parseLine("\x1b[32mgreen starts", state);
  assert.deepEqual(parseLine("still green", state), [{ text: "still green", style: { fg: 2 } }]);
});

test("a carriage return overwrites the line from its start, as a progress bar does", () => {
  assert.equal(plainText(parse("progress 10%\rprogress 55%\rprogress 100%")), "progress 100%");
  assert.equal(plainText(parse("abcdef\rXY")), "XYcdef");
  assert.deepEqual(parse("aaaa\r\x1b[31mbb"), [
    { text: "bb", style: { fg: 1 } },
    { text: "aa", style: {} },
  ]);
  assert.equal(plainText(parse("ab\bC")), "aC");
});

test("other escapes are dropped and control characters shown as symbols", () => {
  assert.equal(plainText(parse("\x1b[2K\x1b[1Gclear\x1b(B\x1b=\x1b]0;title\x07!")), "clear!");
  assert.equal(plainText(parse("nul\x00 bell\x07 esc-end\x1b")), "nul\u2400 bell esc-end");
  assert.equal(plainText(parse("\x1bPdevice control\x1b\\after")), "after");
  assert.equal(plainText(parse("\x1b[31")), "");
});

test("OSC 8 links are kept only for http(s); javascript: and other schemes are plain text", () => {
  assert.deepEqual(parse("\x1b]8;;https://example.com/a\x1b\\site\x1b]8;;\x1b\\ end"), [
    { text: "site", style: {}, link: "https://example.com/a" },
    { text: " end", style: {} },
  ]);
  assert.deepEqual(parse("\x1b]8;;javascript:alert(1)\x07click\x1b]8;;\x07"), [{ text: "click", style: {} }]);
  assert.deepEqual(parse("\x1b]8;id=1;data:text/html,<b>x</b>\x07x"), [{ text: "x", style: {} }]);
  assert.equal(isWebLink("http://127.0.0.1:1/"), true);
  assert.equal(isWebLink("file:///etc/passwd"), false);
  assert.equal(isWebLink("not a url"), false);
});

test("markup in output is text", () => {
  assert.deepEqual(parse("<img src=x onerror=alert(1)>"), [{ text: "<img src=x onerror=alert(1)>", style: {} }]);
});
