import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, createClient, createRouterTransport } from "@connectrpc/connect";
import { JobError } from "@jobexec/core";
import { Health, HealthCheckResponse_ServingStatus, reflectionV1 } from "@jobexec/proto";
import { guard } from "./guard.ts";
import { peerKey, type Peer } from "../network/identity.ts";
import { createLogger } from "../log.ts";
import { failure } from "../test-support/test-harness.ts";

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

describe("guard around a bidi-streaming method (server reflection)", () => {
  function reflectionHarness() {
    const logs: Record<string, unknown>[] = [];
    const ended: [string, Code | undefined][] = [];
    const log = createLogger("info", { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) });
    let peer: Peer = { refusal: "unset" };
    let ran = false;
    const transport = createRouterTransport((router) => {
      router.service(
        reflectionV1.ServerReflection,
        guard(
          reflectionV1.ServerReflection,
          {
            async *serverReflectionInfo(requests, call) {
              ran = true;
              for await (const r of requests) yield { validHost: `${call.caller.name}:${r.host}` };
            },
          },
          log,
          { ended: (method, code) => ended.push([method.name, code]) },
        ),
      );
    }, { router: { interceptors: [(next) => (req) => (req.contextValues.set(peerKey, peer), next(req))] } });
    const client = createClient(reflectionV1.ServerReflection, transport);
    const call = async (who: Peer, hosts: string[]) => {
      peer = who;
      const out: string[] = [];
      const requests = (async function* () { for (const host of hosts) yield create(reflectionV1.ServerReflectionRequestSchema, { host }); })();
      for await (const r of client.serverReflectionInfo(requests)) out.push(r.validHost);
      return out;
    };
    return { logs, ended, call, ran: () => ran };
  }

  test("each request of the stream gets its answer, with the caller; the call is logged and reported once", async () => {
    const h = reflectionHarness();
    assert.deepEqual(await h.call(alice, ["a", "b", "c"]), ["alice:a", "alice:b", "alice:c"]);
    assert.deepEqual(h.ended, [["ServerReflectionInfo", undefined]]);
    assert.equal(h.logs.length, 1);
    assert.equal(h.logs[0]?.method, "grpc.reflection.v1.ServerReflection/ServerReflectionInfo");
    assert.equal(h.logs[0]?.code, "ok");
  });

  test("no handler runs without a caller", async () => {
    const h = reflectionHarness();
    const err = await failure(h.call({ refusal: "client certificate is not for client authentication" }, ["a"]));
    assert.equal(err.code, Code.Unauthenticated);
    assert.equal(h.ran(), false);
    assert.deepEqual(h.ended, [["ServerReflectionInfo", Code.Unauthenticated]]);
  });
});
