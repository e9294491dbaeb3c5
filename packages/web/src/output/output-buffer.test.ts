import assert from "node:assert/strict";
import { test } from "node:test";
import { OutputBuffer } from "./output-buffer.ts";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

test("bytes become lines keyed by stream and offset; a line without its newline stays open and grows", () => {
  const buffer = new OutputBuffer();
  buffer.append("stdout", 0, bytes("one\ntw"));
  assert.deepEqual(buffer.lines.map((l) => [l.key, l.text, l.open]), [["stdout:0", "one", false], ["stdout:4", "tw", true]]);
  buffer.append("stderr", 0, bytes("err\n"));
  buffer.append("stdout", 6, bytes("o\r\nthree\n"));
  assert.deepEqual(buffer.lines.map((l) => [l.key, l.text, l.open]), [
    ["stdout:0", "one", false],
    ["stdout:4", "two", false],
    ["stderr:0", "err", false],
    ["stdout:9", "three", false],
  ]);
  assert.equal(buffer.nextOffset("stdout"), 15);
});

test("a UTF-8 character split between chunks is decoded whole", () => {
  const buffer = new OutputBuffer();
  const all = bytes("é€\n");
  buffer.append("stdout", 0, all.subarray(0, 1));
  buffer.append("stdout", 1, all.subarray(1));
  assert.equal(buffer.lines[0]?.text, "é€");
});

test("bytes already held are skipped; a gap starts a new line", () => {
  const buffer = new OutputBuffer();
  buffer.append("stdout", 0, bytes("abc\n"));
  buffer.append("stdout", 2, bytes("c\nde\n"));
  buffer.append("stdout", 100, bytes("far\n"));
  assert.deepEqual(buffer.lines.map((l) => l.key), ["stdout:0", "stdout:4", "stdout:100"]);
});

test("trim keeps the window bounded and says where it now starts; prepend puts earlier lines back", () => {
  const buffer = new OutputBuffer({ maxLines: 10 });
  let text = "";
  for (let i = 0; i < 20; i++) text += `line ${String(i).padStart(2, "0")}\n`;
  buffer.append("stdout", 0, bytes(text));
  assert.equal(buffer.trim(), 11);
  assert.equal(buffer.lines.length, 9);
  assert.equal(buffer.lines[0]?.text, "line 11");
  assert.equal(buffer.first.stdout, 11 * 8);
  const earlier = new OutputBuffer({}, { cutStart: true });
  earlier.append("stdout", 84, bytes(text.slice(84, 88 + 16)));
  buffer.prepend(earlier);
  // Offset 84 is inside "line 10\n" (80-87): that line is marked cut; "line 11" is not put in twice.
  assert.deepEqual(buffer.lines.slice(0, 3).map((l) => [l.text, l.cut === true]), [[" 10", true], ["line 11", false], ["line 12", false]]);
  assert.equal(buffer.first.stdout, 84);
});

test("an endless line without a newline is broken at the bound", () => {
  const buffer = new OutputBuffer({ maxLineBytes: 8 });
  buffer.append("stdout", 0, bytes("0123456789"));
  buffer.append("stdout", 10, bytes("ab"));
  assert.deepEqual(buffer.lines.map((l) => [l.key, l.text, l.open]), [["stdout:0", "0123456789", false], ["stdout:10", "ab", true]]);
});
