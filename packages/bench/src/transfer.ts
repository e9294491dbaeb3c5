import { spawn } from "node:child_process";
import { once } from "node:events";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { connect } from "node:tls";
import { BenchError } from "./error.ts";
import { siblingProgram } from "./sibling.ts";
import type { Tls } from "./tls.ts";

/** Bytes moved and the milliseconds it took. */
export interface Transfer {
  bytes: number;
  ms: number;
}

/** Megabytes (10^6 bytes) per second of a transfer. */
export const mbPerSecond = (t: Transfer): number => t.bytes / 1e6 / (t.ms / 1000);

/** Baseline: reads a file locally in 64 KiB chunks, the way a follower reads a job's output file. */
export async function readLocal(path: string): Promise<Transfer> {
  const start = performance.now();
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 })) bytes += (chunk as Buffer).length;
  return { bytes, ms: performance.now() - start };
}

/**
 * Baseline: the same file sent over a plain mutual-TLS 1.3 socket on loopback by a child process (tls-source) to
 * this process; timed from the connect call to the last byte.
 */
export async function readOverTls(path: string, tls: Tls): Promise<Transfer> {
  const source = spawn(process.execPath, [siblingProgram("tls-source"), tls.serverCertPath, tls.serverKeyPath, tls.caPath, path], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const lines = createInterface({ input: source.stdout });
    const [line] = (await once(lines, "line")) as [string];
    lines.close();
    const port = Number(line);
    if (!(port > 0)) throw new BenchError("workload", `tls-source printed ${JSON.stringify(line)} instead of a port`);
    const start = performance.now();
    const socket = connect({ host: "127.0.0.1", port, servername: "localhost", ca: tls.ca, cert: tls.clientCert, key: tls.clientKey });
    let bytes = 0;
    for await (const chunk of socket) bytes += (chunk as Buffer).length;
    return { bytes, ms: performance.now() - start };
  } finally {
    source.kill();
  }
}
