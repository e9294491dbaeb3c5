// The least any Node client does for `jobexec status ID`: node:tls and node:http2 alone, one GetJob call with a
// hand-made request, the answer counted and not decoded, exit at once. Plain JavaScript (type stripping would cost
// more than the rest). The start-up benchmark times it next to the CLI as the floor that Node itself sets. Reads
// JOBEXEC_CONFIG_DIR, JOBEXEC_SERVER (HOST:PORT) and ID.
import { createRequire } from "node:module";

// require(), as the CLI's bundle does: an import would build the modules' namespaces.
const require = createRequire(import.meta.url);
const tls = require("node:tls");
const http2 = require("node:http2");
const { readFileSync } = require("node:fs");

const dir = process.env.JOBEXEC_CONFIG_DIR ?? "";
const [host = "", port = ""] = (process.env.JOBEXEC_SERVER ?? "").split(":");
const id = Buffer.from(process.env.ID ?? "");
const ca = readFileSync(`${dir}/ca.pem`);
tls.setDefaultCACertificates?.([ca.toString("latin1")]);
const socket = tls.connect({
  host,
  port: Number(port),
  ALPNProtocols: ["h2"],
  cert: readFileSync(`${dir}/client.pem`),
  key: readFileSync(`${dir}/client.key`),
  ...(typeof tls.setDefaultCACertificates === "function" ? {} : { ca }),
});
const session = http2.connect(`https://${host}:${port}`, { createConnection: () => socket });
// GetJobRequest { id = 1 } in a gRPC frame: no compression flag, 4-byte length.
const message = Buffer.concat([Buffer.from([0x0a, id.length]), id]);
const frame = Buffer.alloc(5);
frame.writeUInt32BE(message.length, 1);
const request = session.request({ ":method": "POST", ":path": "/jobexec.v1.JobService/GetJob", "content-type": "application/grpc+proto", te: "trailers" });
let received = 0;
request.on("data", (chunk) => {
  received += chunk.length;
});
request.on("end", () => {
  process.stdout.write(`${String(received)} bytes\n`, () => process.exit(0));
});
request.end(Buffer.concat([frame, message]));
