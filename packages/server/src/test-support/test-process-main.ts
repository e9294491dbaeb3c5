// `jobexec-server` for tests (see test-process.ts): the real command, plus an IPC probe. On "heap" it collects garbage
// twice (node --expose-gc) and answers with process.memoryUsage(). Not part of the build.
import { run } from "../run.ts";

const gc = (globalThis as { gc?: () => void }).gc;
process.on("message", (message) => {
  if (message !== "heap") return;
  if (gc === undefined) {
    process.send?.({ error: "start node with --expose-gc to measure the heap" });
    return;
  }
  gc();
  gc();
  process.send?.({ heap: process.memoryUsage() });
});
process.exitCode = await run(process.argv.slice(2));
// The IPC channel would keep the process alive after the server stopped.
process.disconnect?.();
