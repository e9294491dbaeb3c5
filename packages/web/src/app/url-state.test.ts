import assert from "node:assert/strict";
import { test } from "node:test";
import { formatRoute, parseLineKey, parseRoute, type Route } from "./url-state.ts";

const at = (address: string): Route => parseRoute(new URL(address, "http://127.0.0.1:4000"));
const id = "0b3e6c1e-5f7a-4b8e-9d2c-1a2b3c4d5e6f";

test("the list's filters round-trip through the address, in a fixed order, unknown states left out", () => {
  const route = at("/?state=running,bogus,queued,running&owner=alice");
  assert.deepEqual(route, { page: "jobs", states: ["queued", "running"], owner: "alice" });
  assert.equal(formatRoute(route), "/?state=queued%2Crunning&owner=alice");
  assert.deepEqual(at(formatRoute(route)), route);
  assert.equal(formatRoute(at("/")), "/");
});

test("a job's page keeps its stream and linked line; a bad line or id is not taken", () => {
  const route = at(`/jobs/${id}?stream=stderr#stderr:1024`);
  assert.deepEqual(route, { page: "job", id, stream: "stderr", line: "stderr:1024" });
  assert.equal(formatRoute(route), `/jobs/${id}?stream=stderr#stderr:1024`);
  assert.deepEqual(at(`/jobs/${id}?stream=<script>#stdout:01`), { page: "job", id, stream: "both" });
  assert.deepEqual(at("/jobs/not-an-id"), { page: "unknown", path: "/jobs/not-an-id" });
  assert.deepEqual(at("/start"), { page: "start" });
});

test("line keys name a stream and an offset", () => {
  assert.deepEqual(parseLineKey("stdout:0"), { stream: "stdout", offset: 0 });
  assert.deepEqual(parseLineKey("stderr:123"), { stream: "stderr", offset: 123 });
  assert.equal(parseLineKey("stdin:1"), undefined);
  assert.equal(parseLineKey("stdout:-1"), undefined);
});
