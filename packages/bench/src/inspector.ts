// A Node process's own view of its memory, through its inspector (node --inspect=127.0.0.1:0): full GCs first, so
// that what is measured is what the process keeps, not what it has not collected yet.
import { readFile } from "node:fs/promises";
import { BenchError } from "./error.ts";

/** Node's flag for a child whose memory {@link collectedMemory} reads: an inspector on a free loopback port. */
export const inspectFlag = "--inspect=127.0.0.1:0";

/** The inspector's WebSocket URL, from the "Debugger listening on ws://..." line Node writes to the child's log. */
export async function inspectorUrl(logPath: string): Promise<string> {
  const url = /Debugger listening on (ws:\/\/\S+)/.exec(await readFile(logPath, "utf8"))?.[1];
  if (url === undefined) throw new BenchError("server", `no inspector address in ${logPath}`);
  return url;
}

/** Heap used and RSS of the process at `url` after two full garbage collections, in bytes. */
export async function collectedMemory(url: string): Promise<{ heapUsedBytes: number; rssBytes: number }> {
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve, { once: true });
    socket.addEventListener("error", () => reject(new BenchError("server", `cannot reach the inspector at ${url}`)), { once: true });
  });
  let id = 0;
  const answers = new Map<number, (result: unknown) => void>();
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) answers.get(message.id)?.(message.result);
  });
  const call = (method: string, params: object = {}): Promise<unknown> =>
    new Promise((resolve) => {
      answers.set(++id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
    });
  try {
    await call("HeapProfiler.collectGarbage");
    await call("HeapProfiler.collectGarbage");
    const result = (await call("Runtime.evaluate", { expression: "JSON.stringify(process.memoryUsage())" })) as { result: { value: string } };
    const usage = JSON.parse(result.result.value) as { heapUsed: number; rss: number };
    return { heapUsedBytes: usage.heapUsed, rssBytes: usage.rss };
  } finally {
    socket.close();
  }
}
