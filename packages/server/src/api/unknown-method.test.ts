import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http2 from "node:http2";
import https from "node:https";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { startServerProcess, type ServerProcess } from "../test-support/test-harness.ts";

const buf = join(import.meta.dirname, "../../../../node_modules/.bin/buf");
const run = promisify(execFile);

// A schema of services this server does not have, for clients that need one to make a call at all.
const foreignProto = `syntax = "proto3";
package nope.v1;
import "google/protobuf/empty.proto";
service Nope {
  rpc Unary(google.protobuf.Empty) returns (google.protobuf.Empty);
  rpc Stream(google.protobuf.Empty) returns (stream google.protobuf.Empty);
}
`;

// A gRPC client in another language (gRPC C-core), when Debian's python3-grpcio is installed (CI installs it).
const pythonClient = `
import sys, grpc
port, d = sys.argv[1], sys.argv[2]
r = lambda n: open(f"{d}/{n}", "rb").read()
with grpc.secure_channel(f"127.0.0.1:{port}", grpc.ssl_channel_credentials(r("ca.pem"), r("client.key"), r("client.pem"))) as ch:
    for path in sys.argv[3:]:
        try:
            ch.unary_unary(path)(b"", timeout=30)
            print(path, "OK")
        except grpc.RpcError as e:
            print(path, e.code().name, e.details())
`;

describe("an unknown method or service answers UNIMPLEMENTED in each protocol, from a jobexec-server process", { timeout: 180_000 }, () => {
  let server: ServerProcess;
  let dir: string;
  const tls = { ca: "", cert: "", key: "" };
  before(async () => {
    server = await startServerProcess();
    dir = await mkdtemp(join(tmpdir(), "jobexec-unknown-method-"));
    await writeFile(join(dir, "nope.proto"), foreignProto);
    for (const [k, file] of [["ca", "ca.pem"], ["cert", "client.pem"], ["key", "client.key"]] as const) tls[k] = await readFile(join(server.configDir, file), "utf8");
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("buf curl in gRPC, gRPC-Web and Connect, unary and server-streaming: unimplemented, with a sentence", async () => {
    const { configDir } = server;
    for (const protocol of ["grpc", "grpcweb", "connect"]) {
      for (const method of ["Unary", "Stream"]) {
        const args = ["curl", "--schema", dir, "--protocol", protocol, "--cacert", join(configDir, "ca.pem"), "--cert", join(configDir, "client.pem"), "--key", join(configDir, "client.key"), "-d", "{}", `${server.url}/nope.v1.Nope/${method}`];
        const failed = await run(buf, args).then(() => assert.fail(`${protocol} ${method} must fail`), (error: { stderr: string }) => error);
        const reported = JSON.parse(failed.stderr) as { code: string; message: string };
        assert.equal(reported.code, "unimplemented", `${protocol} ${method}: ${failed.stderr}`);
        assert.match(reported.message, /unknown service "nope\.v1\.Nope"; this server serves jobexec\.v1\.JobService, grpc\.health\.v1\.Health/);
      }
    }
  });

  test("gRPC: trailers-only, a single HEADERS frame that ends the stream", async () => {
    const session = http2.connect(server.url, tls);
    try {
      for (const [path, says] of [["/nope.v1.Nope/Unary", /^unknown service "nope\.v1\.Nope"/], ["/jobexec.v1.JobService/RemoveEverything", /^unknown method "RemoveEverything" of service jobexec\.v1\.JobService$/]] as const) {
        const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
        stream.end(Buffer.alloc(5));
        const [headers, flags] = await new Promise<[http2.IncomingHttpHeaders, number]>((resolve) => stream.once("response", (h, f) => resolve([h, f])));
        let data = 0;
        stream.on("data", (chunk: Buffer) => (data += chunk.length));
        await new Promise((resolve) => stream.once("close", resolve));
        assert.equal(headers[":status"], 200);
        assert.equal(headers["content-type"], "application/grpc");
        assert.equal(headers["grpc-status"], "12");
        assert.match(decodeURIComponent(String(headers["grpc-message"])), says);
        assert.ok(flags & http2.constants.NGHTTP2_FLAG_END_STREAM, "the HEADERS frame ends the stream");
        assert.equal(data, 0);
      }
    } finally {
      session.close();
    }
  });

  test("Connect unary over HTTP/1.1: HTTP 501 with the Connect error JSON; the connection stays usable", async () => {
    const agent = new https.Agent({ ...tls, keepAlive: true, maxSockets: 1 });
    try {
      const post = (path: string) =>
        new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
          const req = https.request(`${server.url}${path}`, { method: "POST", agent, headers: { "content-type": "application/json" } }, (res) => {
            let body = "";
            res.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }));
          });
          req.on("error", reject).end("{}");
        });
      const answer = await post("/nope.v1.Nope/Unary");
      assert.equal(answer.status, 501);
      assert.equal(answer.type, "application/json");
      assert.equal((JSON.parse(answer.body) as { code: string }).code, "unimplemented");
      const health = await post("/grpc.health.v1.Health/Check");
      assert.equal(health.status, 200);
      assert.deepEqual(JSON.parse(health.body), { status: "SERVING" });
    } finally {
      agent.destroy();
    }
  });

  test("a gRPC client in Python (C-core) sees UNIMPLEMENTED; a real method still answers", async (t) => {
    const python = "/usr/bin/python3";
    const usable = existsSync(python) && (await run(python, ["-c", "import grpc"]).then(() => true, () => false));
    if (!usable) return t.skip("python3-grpcio is not installed (apt-get install python3-grpcio)");
    const { stdout } = await run(python, ["-c", pythonClient, String(server.port), server.configDir, "/nope.v1.Nope/Unary", "/jobexec.v1.JobService/Nope", "/grpc.health.v1.Health/Check"]);
    const lines = stdout.trim().split("\n");
    assert.match(lines[0] ?? "", /^\/nope\.v1\.Nope\/Unary UNIMPLEMENTED unknown service "nope\.v1\.Nope"/);
    assert.match(lines[1] ?? "", /^\/jobexec\.v1\.JobService\/Nope UNIMPLEMENTED unknown method "Nope" of service jobexec\.v1\.JobService/);
    assert.equal(lines[2], "/grpc.health.v1.Health/Check OK");
  });
});
