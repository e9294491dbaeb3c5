import assert from "node:assert/strict";
import { test } from "node:test";
import { serverUrl } from "./server-address.ts";

test("server addresses: HOST:PORT, bare host, IPv6, URL", () => {
  assert.equal(serverUrl("127.0.0.1:50051").href, "https://127.0.0.1:50051/");
  assert.equal(serverUrl("jobs.example.com").href, "https://jobs.example.com:50051/");
  assert.equal(serverUrl("[::1]:7000").host, "[::1]:7000");
  assert.equal(serverUrl("https://localhost:9000").host, "localhost:9000");
});

test("bad server addresses are usage errors", () => {
  for (const bad of ["", "http://x:1", "host:", "host:notaport", "a b:1", "https://x:1/path", "host:99999"]) {
    assert.throws(() => serverUrl(bad), (e: Error & { code?: string }) => e.code === "usage" && /--server: .* is not a server address/.test(e.message), bad);
  }
});
