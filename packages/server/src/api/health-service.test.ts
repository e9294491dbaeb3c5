import assert from "node:assert/strict";
import { test } from "node:test";
import { Code } from "@connectrpc/connect";
import { HealthCheckResponse_ServingStatus as Status, JobService } from "@jobexec/proto";
import { failure, startTestServer } from "../test-support/test-harness.ts";

test("health: Check and Watch answer SERVING; Watch ends UNAVAILABLE when the server shuts down", async () => {
  const t = await startTestServer();
  let closed = false;
  try {
    const health = t.health();
    assert.equal((await health.check({})).status, Status.SERVING);
    assert.equal((await health.check({ service: JobService.typeName })).status, Status.SERVING);
    const unknown = health.watch({ service: "nope" })[Symbol.asyncIterator]();
    assert.equal((await unknown.next()).value?.status, Status.SERVICE_UNKNOWN);
    await unknown.return?.();
    const watch = health.watch({})[Symbol.asyncIterator]();
    assert.equal((await watch.next()).value?.status, Status.SERVING);
    const rest = failure(watch.next());
    await t.close();
    closed = true;
    const err = await rest;
    assert.equal(err.code, Code.Unavailable);
    assert.equal(err.rawMessage, "server shutting down");
  } finally {
    if (!closed) await t.close();
  }
});
