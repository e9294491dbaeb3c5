#!/usr/bin/env node
// Baseline for follow throughput: serves one file over plain TLS (mutual, TLS 1.3) to every client that connects,
// read in 64 KiB chunks, then closes. Run as a child process so that, as with the server, the sending side has its
// own process. Usage: tls-source CERT KEY CA FILE; prints the port it listens on, then serves until killed.
import { createReadStream, readFileSync } from "node:fs";
import { createServer } from "node:tls";
import { pipeline } from "node:stream/promises";

const [certPath, keyPath, caPath, file] = process.argv.slice(2);
if (file === undefined || certPath === undefined || keyPath === undefined || caPath === undefined) {
  process.stderr.write("usage: tls-source CERT KEY CA FILE\n");
  process.exit(2);
}
const server = createServer(
  {
    cert: readFileSync(certPath),
    key: readFileSync(keyPath),
    ca: readFileSync(caPath),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: "TLSv1.3",
  },
  (socket) => {
    pipeline(createReadStream(file, { highWaterMark: 64 * 1024 }), socket).catch((error: unknown) => {
      process.stderr.write(`tls-source: ${String(error)}\n`);
    });
  },
);
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`${typeof address === "object" && address !== null ? address.port : 0}\n`);
});
