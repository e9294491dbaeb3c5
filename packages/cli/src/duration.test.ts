import assert from "node:assert/strict";
import { test } from "node:test";
import { formatDuration, parseDuration } from "./duration.ts";

test("durations: ms, s, m, h, combined, fractional; bare 0", () => {
  assert.equal(parseDuration("0", "--grace"), 0);
  assert.equal(parseDuration("500ms", "--grace"), 500);
  assert.equal(parseDuration("10s", "--grace"), 10_000);
  assert.equal(parseDuration("1.5s", "--grace"), 1500);
  assert.equal(parseDuration("1m", "--grace"), 60_000);
  assert.equal(parseDuration("1m30s", "--grace"), 90_000);
  assert.equal(parseDuration("2h", "--grace"), 7_200_000);
  assert.equal(parseDuration("0s", "--grace"), 0);
  assert.equal(parseDuration("1h2m3s4ms", "--grace"), 3_723_004);
});

test("durations: a number without a unit, negative or junk is a usage error", () => {
  for (const bad of ["", "5", "-1s", "10 s", "1d", "s", "1m 30s", "1.s", "ten seconds", "1s-"]) {
    assert.throws(() => parseDuration(bad, "--grace"), /--grace: .* is not a duration/, bad);
  }
});

test("durations print short and exact enough", () => {
  assert.equal(formatDuration(0), "0ms");
  assert.equal(formatDuration(500), "500ms");
  assert.equal(formatDuration(1000), "1s");
  assert.equal(formatDuration(1234), "1.2s");
  assert.equal(formatDuration(10_000), "10s");
  assert.equal(formatDuration(59_999), "59s");
  assert.equal(formatDuration(60_000), "1m");
  assert.equal(formatDuration(65_000), "1m 5s");
  assert.equal(formatDuration(3_600_000), "1h");
  assert.equal(formatDuration(3_723_000), "1h 2m");
  assert.equal(formatDuration(93_600_000), "1d 2h");
});
