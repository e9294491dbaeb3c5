import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { create, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { reflectionV1, reflectionV1alpha } from "@jobexec/proto";
import { startServerProcess, type ServerProcess } from "../test-support/test-harness.ts";

const buf = join(import.meta.dirname, "../../../../node_modules/.bin/buf");
const run = promisify(execFile);

describe("server reflection, against a jobexec-server process", { timeout: 180_000 }, () => {
  let server: ServerProcess;
  let curl: (args: string[]) => Promise<{ stdout: string; stderr: string }>;
  before(async () => {
    server = await startServerProcess();
    const { configDir } = server;
    // buf curl: a reflection client not written here (Go, connect-go and grpc-go's reflection protocol).
    curl = (args) => run(buf, ["curl", "--cacert", join(configDir, "ca.pem"), "--cert", join(configDir, "client.pem"), "--key", join(configDir, "client.key"), ...args]);
  });
  after(() => server.stop());

  test("buf curl --list-services and --list-methods, over reflection v1 and v1alpha", async () => {
    const services = ["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection", "jobexec.v1.JobService"];
    const methods = ["DeleteJob", "GetJob", "GetQueueSummary", "ListJobs", "StartJob", "StopJob", "StreamOutput", "WatchJobs"].map((m) => `jobexec.v1.JobService/${m}`);
    for (const protocol of ["grpc-v1", "grpc-v1alpha"]) {
      const listed = await curl(["--reflect-protocol", protocol, "--list-services", server.url]);
      assert.deepEqual(listed.stdout.trim().split("\n"), services, protocol);
      const all = (await curl(["--reflect-protocol", protocol, "--list-methods", server.url])).stdout.trim().split("\n");
      for (const method of [...methods, "grpc.health.v1.Health/Check", "grpc.reflection.v1.ServerReflection/ServerReflectionInfo"]) assert.ok(all.includes(method), `${protocol}: ${method}`);
    }
  });

  test("buf curl calls JobService with the schema from reflection (no schema flag), in each protocol", async () => {
    for (const protocol of ["grpc", "grpcweb", "connect"]) {
      const started = JSON.parse((await curl(["--protocol", protocol, "-d", '{"program":"echo","args":["from buf curl"]}', `${server.url}/jobexec.v1.JobService/StartJob`])).stdout) as { job: { id: string; owner: string } };
      assert.equal(started.job.owner, "tester", protocol);
      const got = JSON.parse((await curl(["--protocol", protocol, "-d", JSON.stringify({ id: started.job.id }), `${server.url}/jobexec.v1.JobService/GetJob`])).stdout) as { job: { id: string; program: string; args: string[] } };
      assert.equal(got.job.id, started.job.id);
      assert.deepEqual(got.job.args, ["from buf curl"]);
    }
    const health = await curl(["--reflect-protocol", "grpc-v1alpha", "-d", "{}", `${server.url}/grpc.health.v1.Health/Check`]);
    assert.deepEqual(JSON.parse(health.stdout), { status: "SERVING" });
  });

  test("without a client certificate, reflection is refused like every call", async () => {
    const refused = await run(buf, ["curl", "--cacert", join(server.configDir, "ca.pem"), "--list-services", server.url]).then(() => undefined, (error: Error) => error);
    assert.ok(refused, "buf curl must fail");
  });

  test("one stream answers each request: files with their imports, symbols, extensions, errors", async () => {
    const { configDir } = server;
    const read = (name: string) => readFileSync(join(configDir, name), "utf8");
    const transport = createGrpcTransport({ baseUrl: server.url, nodeOptions: { ca: read("ca.pem"), cert: read("client.pem"), key: read("client.key") } });
    const client = createClient(reflectionV1.ServerReflection, transport);
    const asks: reflectionV1.ServerReflectionRequest["messageRequest"][] = [
      { case: "fileContainingSymbol", value: "jobexec.v1.JobService.StartJob" },
      { case: "fileByFilename", value: "jobexec/v1/job.proto" },
      { case: "fileContainingSymbol", value: "jobexec.v1.Job.state" },
      { case: "fileContainingSymbol", value: "grpc.health.v1.HealthCheckResponse.SERVING" },
      { case: "fileContainingSymbol", value: "no.such.Thing" },
      { case: "fileByFilename", value: "no/such.proto" },
      { case: "fileContainingExtension", value: create(reflectionV1.ExtensionRequestSchema, { containingType: "jobexec.v1.Job", extensionNumber: 100 }) },
      { case: "allExtensionNumbersOfType", value: "jobexec.v1.Job" },
      { case: "listServices", value: "" },
      { case: undefined },
    ];
    const requests = asks.map((messageRequest) => create(reflectionV1.ServerReflectionRequestSchema, { host: "h", messageRequest }));
    const answers: reflectionV1.ServerReflectionResponse[] = [];
    for await (const response of client.serverReflectionInfo((async function* () { yield* requests; })())) answers.push(response);
    assert.equal(answers.length, requests.length);
    answers.forEach((a, i) => {
      assert.equal(a.validHost, "h");
      assert.deepEqual(a.originalRequest?.messageRequest, requests[i]?.messageRequest);
    });
    const fileNames = (i: number) => {
      const r = answers[i]?.messageResponse;
      assert.equal(r?.case, "fileDescriptorResponse", `answer ${i}`);
      return r.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
    };
    // The file first, then everything it imports, transitively.
    const [first, ...imports] = fileNames(0);
    assert.equal(first, "jobexec/v1/job_service.proto");
    assert.deepEqual(imports.sort(), ["google/protobuf/duration.proto", "google/protobuf/timestamp.proto", "jobexec/v1/job.proto"]);
    assert.deepEqual(fileNames(1)[0], "jobexec/v1/job.proto");
    assert.deepEqual(fileNames(2)[0], "jobexec/v1/job.proto");
    assert.deepEqual(fileNames(3), ["grpc/health/v1/health.proto"]);
    const errorOf = (i: number) => {
      const r = answers[i]?.messageResponse;
      assert.equal(r?.case, "errorResponse", `answer ${i}`);
      return r.value;
    };
    assert.equal(errorOf(4).errorCode, 5);
    assert.match(errorOf(4).errorMessage, /symbol "no\.such\.Thing" not found/);
    assert.equal(errorOf(5).errorCode, 5);
    assert.equal(errorOf(6).errorCode, 5);
    const numbers = answers[7]?.messageResponse;
    assert.equal(numbers?.case, "allExtensionNumbersResponse");
    assert.deepEqual(numbers.value.extensionNumber, []);
    const services = answers[8]?.messageResponse;
    assert.equal(services?.case, "listServicesResponse");
    assert.deepEqual(services.value.service.map((s) => s.name), ["jobexec.v1.JobService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]);
    assert.equal(errorOf(9).errorCode, 3);

    // v1alpha answers the same, in its own messages.
    const alpha = createClient(reflectionV1alpha.ServerReflection, transport);
    for await (const response of alpha.serverReflectionInfo((async function* () { yield create(reflectionV1alpha.ServerReflectionRequestSchema, { messageRequest: { case: "fileByFilename", value: "jobexec/v1/job_service.proto" } }); })())) {
      assert.equal(response.$typeName, "grpc.reflection.v1alpha.ServerReflectionResponse");
      assert.equal(response.messageResponse.case, "fileDescriptorResponse");
    }
    const rpc = server.logs.filter((l) => l.msg === "rpc" && String(l.method).startsWith("grpc.reflection"));
    assert.ok(rpc.some((l) => l.caller === "tester" && l.code === "ok"), "reflection calls are logged like every call");
  });
});
