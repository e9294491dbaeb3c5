import assert from "node:assert/strict";
import { test } from "node:test";
import { CliError } from "./errors.ts";
import { formatBytes, parseBytes, parseCount, parseCpu } from "./units.ts";

test("sizes: K, M, G, T are powers of 1024 as in systemd and Docker; KB, MB, GB, TB powers of 1000", () => {
  assert.equal(parseBytes("1024", "--memory"), 1024);
  assert.equal(parseBytes("512B", "--memory"), 512);
  assert.equal(parseBytes("256M", "--memory"), 256 * 1024 ** 2);
  assert.equal(parseBytes("256m", "--memory"), 256 * 1024 ** 2);
  assert.equal(parseBytes("256Mi", "--memory"), 256 * 1024 ** 2);
  assert.equal(parseBytes("256MiB", "--memory"), 256 * 1024 ** 2);
  assert.equal(parseBytes("256MB", "--memory"), 256_000_000);
  assert.equal(parseBytes("1k", "--memory"), 1024);
  assert.equal(parseBytes("1kb", "--memory"), 1000);
  assert.equal(parseBytes("2G", "--memory"), 2 * 1024 ** 3);
  assert.equal(parseBytes("2GB", "--memory"), 2e9);
  assert.equal(parseBytes("1T", "--memory"), 1024 ** 4);
  assert.equal(parseBytes("1.5K", "--memory"), 1536);
  assert.equal(parseBytes("0.5GB", "--memory"), 5e8);
  assert.equal(parseBytes(" 10 M ", "--memory"), 10 * 1024 ** 2);
});

test("sizes: bad text, zero, fractions of a byte and overflow are usage errors naming the flag", () => {
  for (const bad of ["", "M", "12X", "-1M", "1.5", "0.1K1", "1e3", "0", "0M", "1.0001K", "9000P", "99999999T", "1 2M"]) {
    assert.throws(() => parseBytes(bad, "--memory"), (e: unknown) => e instanceof CliError && e.code === "usage" && e.message.startsWith("--memory: "), bad);
  }
});

test("counts are positive whole numbers", () => {
  assert.equal(parseCount("64", "--pids"), 64);
  for (const bad of ["0", "-3", "1.5", "ten", "", "1e3"]) {
    assert.throws(() => parseCount(bad, "--pids"), /--pids: .* is not a positive whole number/, bad);
  }
});

test("cpu: fractions of CPUs or percentages", () => {
  assert.equal(parseCpu("0.5", "--cpu"), 0.5);
  assert.equal(parseCpu("2", "--cpu"), 2);
  assert.equal(parseCpu(".25", "--cpu"), 0.25);
  assert.equal(parseCpu("50%", "--cpu"), 0.5);
  for (const bad of ["0", "0%", "-1", "half", "", "1/2"]) {
    assert.throws(() => parseCpu(bad, "--cpu"), /--cpu: /, bad);
  }
});

test("byte counts read back in the unit they are exact in, else binary with one decimal", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(999), "999 B");
  assert.equal(formatBytes(1000), "1 kB");
  assert.equal(formatBytes(1024), "1 KiB");
  assert.equal(formatBytes(256_000_000), "256 MB");
  assert.equal(formatBytes(256 * 1024 * 1024), "256 MiB");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(12_345_678), "11.8 MiB");
  assert.equal(formatBytes(1536 * 1024 * 1024), "1536 MiB");
  assert.equal(formatBytes(24_683_772 * 1024), "23.5 GiB", "exact only in a unit that keeps the number short");
  assert.equal(formatBytes(2 * 1024 ** 4), "2 TiB");
  for (const text of ["256M", "512Mi", "1G", "3Gi", "10K"]) {
    const bytes = parseBytes(text, "--memory");
    assert.equal(parseBytes(formatBytes(bytes).replace(" ", ""), "--memory"), bytes, text);
  }
});
