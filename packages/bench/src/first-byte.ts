import { watch } from "node:fs";
import { stat } from "node:fs/promises";
import { BenchError } from "./error.ts";

/**
 * Resolves once the file at `path` holds at least one byte, woken by inotify (no polling), and returns the
 * `performance.now()` at which that was seen. The file must exist already. After `signal` aborts, one last look
 * decides: a byte is there, or the wait fails.
 */
export async function firstByte(path: string, signal?: AbortSignal, timeoutMs = 30_000): Promise<number> {
  const { promise, resolve, reject } = Promise.withResolvers<number>();
  // Looks are chained, one at a time, so the last look after an abort sees everything written before it.
  let looks = Promise.resolve();
  const look = (): Promise<void> =>
    (looks = looks.then(async () => {
      try {
        if ((await stat(path)).size > 0) resolve(performance.now());
      } catch (error) {
        reject(new BenchError("workload", `cannot stat ${path}`, { cause: error }));
      }
    }));
  // Watch first, then look: a byte written between the two is still seen by the first look.
  const watcher = watch(path, () => void look());
  watcher.on("error", (error) => reject(new BenchError("workload", `cannot watch ${path}`, { cause: error })));
  const timer = setTimeout(() => reject(new BenchError("workload", `no output in ${path} after ${timeoutMs} ms`)), timeoutMs);
  signal?.addEventListener("abort", () => void look().then(() => reject(new BenchError("workload", `no output in ${path}`))));
  void look();
  try {
    return await promise;
  } finally {
    clearTimeout(timer);
    watcher.close();
  }
}
