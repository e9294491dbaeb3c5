import { spawn } from "node:child_process";
import { once } from "node:events";
import { open } from "node:fs/promises";
import { BenchError } from "./error.ts";
import { firstByte } from "./first-byte.ts";

/** Timings of one program run directly from Node with its stdout going to a file. */
export interface DirectRun {
  /** Milliseconds from the spawn call until the first byte was in the file. */
  firstByteMs: number;
  /** Milliseconds from the spawn call until the process exited. */
  exitMs: number;
}

/**
 * Runs `program args` the way a baseline should: straight from Node, stdout to a fresh file at `outPath`, stderr
 * discarded; times from before the file is opened (the service opens its files too) to the first byte and the exit.
 */
export async function runDirect(program: string, args: readonly string[], outPath: string): Promise<DirectRun> {
  const start = performance.now();
  const out = await open(outPath, "w");
  const abort = new AbortController();
  try {
    const child = spawn(program, args, { stdio: ["ignore", out.fd, "ignore"] });
    const first = firstByte(outPath, abort.signal);
    const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
    const end = performance.now();
    if (code !== 0) {
      throw new BenchError("workload", `${program} ${args.join(" ")} ended with ${signal ?? `exit code ${code}`}`);
    }
    // The output is complete at exit: a file still empty then will stay empty.
    abort.abort();
    return { firstByteMs: (await first) - start, exitMs: end - start };
  } finally {
    abort.abort();
    await out.close();
  }
}
