import { watch } from "node:fs";
import { stat } from "node:fs/promises";
import { BenchError } from "./error.ts";

/**
 * Resolves once the file at `path` holds at least one byte, woken by inotify (no polling), and returns the
 * `performance.now()` at which that was seen. The file must exist already.
 */
export async function firstByte(path: string, timeoutMs = 30_000): Promise<number> {
  const { promise, resolve, reject } = Promise.withResolvers<number>();
  let checking = false;
  let again = false;
  // Watch first, then look: a byte written between the two is still seen by the first check.
  const watcher = watch(path, () => void check());
  const timer = setTimeout(() => reject(new BenchError("workload", `no output in ${path} after ${timeoutMs} ms`)), timeoutMs);
  async function check(): Promise<void> {
    if (checking) {
      again = true;
      return;
    }
    checking = true;
    do {
      again = false;
      try {
        if ((await stat(path)).size > 0) resolve(performance.now());
      } catch (error) {
        reject(new BenchError("workload", `cannot stat ${path}`, { cause: error }));
      }
    } while (again);
    checking = false;
  }
  watcher.on("error", (error) => reject(new BenchError("workload", `cannot watch ${path}`, { cause: error })));
  void check();
  try {
    return await promise;
  } finally {
    clearTimeout(timer);
    watcher.close();
  }
}
