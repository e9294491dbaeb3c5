import assert from "node:assert/strict";
import { test } from "node:test";
import { parseListen } from "./listen-address.ts";
import { allowedHosts, checkRequest, isLoopback } from "./request-guard.ts";

test("--listen takes IP:PORT and [IPv6]:PORT, and nothing else", () => {
  assert.deepEqual(parseListen("127.0.0.1:0"), { host: "127.0.0.1", port: 0 });
  assert.deepEqual(parseListen("[::1]:8080"), { host: "::1", port: 8080 });
  assert.deepEqual(parseListen("localhost:80"), { host: "localhost", port: 80 });
  for (const bad of ["127.0.0.1", ":80", "example.com:80", "127.0.0.1:65536", "[::1:80", "::1:80"]) {
    assert.throws(() => parseListen(bad), /--listen: .* is not an address to listen on/, bad);
  }
});

test("loopback addresses are told from others", () => {
  assert.equal(isLoopback("127.0.0.1"), true);
  assert.equal(isLoopback("127.1.2.3"), true);
  assert.equal(isLoopback("::1"), true);
  assert.equal(isLoopback("0.0.0.0"), false);
  assert.equal(isLoopback("192.168.1.2"), false);
});

test("a request must name one of our hosts exactly and, if it says where it comes from, come from our page", () => {
  const hosts = allowedHosts("127.0.0.1", 4000);
  const ok = { host: "127.0.0.1:4000" };
  assert.equal(checkRequest(ok, hosts, { sameOriginOnly: true }), undefined);
  assert.equal(checkRequest({ host: "localhost:4000", origin: "http://localhost:4000", "sec-fetch-site": "same-origin" }, hosts, { sameOriginOnly: true }), undefined);
  assert.equal(checkRequest({ host: "[::1]:4000" }, hosts, { sameOriginOnly: true }), undefined);
  assert.equal(checkRequest({ host: "rebind.example:4000" }, hosts, { sameOriginOnly: false })?.status, 421);
  assert.equal(checkRequest({ host: "127.0.0.1:4001" }, hosts, { sameOriginOnly: false })?.status, 421);
  assert.equal(checkRequest({}, hosts, { sameOriginOnly: false })?.status, 421);
  assert.equal(checkRequest({ ...ok, origin: "http://evil.example" }, hosts, { sameOriginOnly: false })?.status, 403);
  assert.equal(checkRequest({ ...ok, origin: "http://localhost:4000" }, hosts, { sameOriginOnly: false })?.status, 403);
  assert.equal(checkRequest({ ...ok, "sec-fetch-site": "same-site" }, hosts, { sameOriginOnly: true })?.status, 403);
  assert.equal(checkRequest({ ...ok, "sec-fetch-site": "cross-site" }, hosts, { sameOriginOnly: false }), undefined);
});
