import { spawn } from "node:child_process";
import { once } from "node:events";
import { open } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Context } from "./context.ts";
import { BenchError } from "./error.ts";
import type { ServerProcess } from "./server-process.ts";
import type { Transfer } from "./transfer.ts";

/** The `jobexec` command: bin/run.js of the CLI package. */
const cliMain = join(dirname(fileURLToPath(import.meta.resolve("@jobexec/cli/package.json"))), "bin", "run.js");

/**
 * Runs `jobexec logs --stream stdout ID` against the server with its stdout on /dev/null, as a user would; the time
 * is the child's whole life, start-up included. Fails unless it exits 0.
 */
export async function runCliLogs(context: Context, server: ServerProcess, id: string): Promise<Pick<Transfer, "ms">> {
  const { tls } = context;
  const devNull = await open("/dev/null", "w");
  try {
    const start = performance.now();
    const child = spawn(
      process.execPath,
      [cliMain, "logs", "--stream", "stdout", id, "--server", new URL(server.url).host, "--cert", tls.clientCertPath, "--key", tls.clientKeyPath, "--ca", tls.caPath],
      { stdio: ["ignore", devNull.fd, "pipe"] },
    );
    let stderr = "";
    child.stderr?.on("data", (data: Buffer) => (stderr += data.toString()));
    const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
    const ms = performance.now() - start;
    if (code !== 0) throw new BenchError("workload", `jobexec logs ${id} ended with ${signal ?? `exit code ${code}`}: ${stderr.trim()}`);
    return { ms };
  } finally {
    await devNull.close();
  }
}
