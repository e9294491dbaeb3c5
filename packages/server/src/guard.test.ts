import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Code, createClient, createRouterTransport } from "@connectrpc/connect";
import { JobError } from "@jobexec/core";
import { Health, HealthCheckResponse_ServingStatus } from "@jobexec/proto";
import { guard } from "./guard.ts";
import { peerKey, type Peer } from "./identity.ts";
import { createLogger } from "./log.ts";
import { failure } from "./test-harness.ts";

// The guard around a service, over Connect's in-memory router transport (the real protocol stack, no network).
function harness(check: () => Promise<unknown>) {
  const logs: Record<string, unknown>[] = [];
  const log = createLogger("info", { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) });
  let peer: Peer = { refusal: "unset" };
  const transport = createRouterTransport((router) => {
    router.service(
      Health,
      guard(
        Health,
        {
          async check(_req, call) {
            await check();
            call.jobId = "j";
            return { status: HealthCheckResponse_ServingStatus.SERVING };
          },
          async *watch() {},
        },
        log,
      ),
    );
  }, {
    // Stands in for the node adapter's contextValues, which derives the peer from the TLS socket.
    router: { interceptors: [(next) => (req) => (req.contextValues.set(peerKey, peer), next(req))] },
  });
  const client = createClient(Health, transport);
  const as = (who: Peer) => {
    peer = who;
    return client.check({});
  };
  return { logs, as };
}

const alice: Peer = { caller: { name: "alice", admin: false } };

describe("guard", () => {
  test("no handler runs without a caller", async () => {
    let ran = false;
    const { as } = harness(async () => (ran = true));
    const err = await failure(as({ refusal: "no client certificate" }));
    assert.equal(err.code, Code.Unauthenticated);
    assert.equal(err.rawMessage, "no client certificate");
    assert.equal(ran, false);
  });

  test("core errors keep their sentence and map to their code", async () => {
    const codes = [
      ["not_found", Code.NotFound],
      ["invalid_argument", Code.InvalidArgument],
      ["failed_precondition", Code.FailedPrecondition],
      ["resource_exhausted", Code.ResourceExhausted],
    ] as const;
    for (const [code, expected] of codes) {
      const { as } = harness(async () => {
        throw new JobError(code, `a sentence about ${code}`);
      });
      const err = await failure(as(alice));
      assert.equal(err.code, expected);
      assert.equal(err.rawMessage, `a sentence about ${code}`);
    }
  });

  test("an unexpected error is INTERNAL with a reference; the cause stays in the log", async () => {
    const { as, logs } = harness(async () => {
      throw new Error("EACCES: permission denied, open '/var/lib/jobexec/secret'");
    });
    const err = await failure(as(alice));
    assert.equal(err.code, Code.Internal);
    assert.doesNotMatch(err.rawMessage, /var\/lib|EACCES|at /);
    const ref = /reference ([0-9a-f]{8})/.exec(err.rawMessage)?.[1];
    assert.ok(ref);
    const line = logs.find((l) => l.ref === ref);
    assert.equal(line?.level, "error");
    assert.match(JSON.stringify(line?.cause), /permission denied/);
  });

  test("logs one line per call: caller, method, job, code, duration", async () => {
    const { as, logs } = harness(async () => undefined);
    await as({ caller: { name: "root", admin: true } });
    assert.equal(logs.length, 1);
    const [line] = logs;
    assert.equal(line?.msg, "rpc");
    assert.equal(line?.method, "grpc.health.v1.Health/Check");
    assert.equal(line?.caller, "root");
    assert.equal(line?.admin, true);
    assert.equal(line?.job, "j");
    assert.equal(line?.code, "ok");
    assert.equal(typeof line?.ms, "number");
  });
});
