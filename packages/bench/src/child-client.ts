// A bench client in a child process of its own (fork, advanced serialization), driven by typed messages: figures fork
// several, so that no single client thread limits what they measure.
import { fork, type ChildProcess } from "node:child_process";
import { BenchError } from "./error.ts";
import { siblingProgram } from "./sibling.ts";

/** A child's message: a `type`, and `error` for a failure (which fails every wait). */
type Message = { type: string } | { type: "error"; message: string };

/** A forked client and its next message of each kind. */
export interface ChildClient<From extends Message, To> {
  child: ChildProcess;
  /** Its next message of `type`; rejects once it reported an error or exited. */
  next<T extends From["type"]>(type: T): Promise<Extract<From, { type: T }>>;
  send(message: To): void;
  /** Its first "ready" message: loaded. */
  ready: Promise<unknown>;
}

/** Forks the sibling program `name` (see siblingProgram), which says `{type: "ready"}` once loaded. */
export function forkClient<From extends Message, To>(name: string): ChildClient<From, To> {
  const child = fork(siblingProgram(name), [], { serialization: "advanced", stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const waiting = new Map<string, (message: From | { type: "error"; message: string }) => void>();
  let failure: BenchError | undefined;
  const fail = (error: BenchError): void => {
    failure ??= error;
    for (const reject of waiting.values()) reject({ type: "error", message: error.message });
  };
  child.on("message", (message: From) => {
    if (message.type === "error") fail(new BenchError("workload", `${name} ${String(child.pid)}: ${(message as { message: string }).message}`));
    else waiting.get(message.type)?.(message);
  });
  child.once("exit", (code, signal) => fail(new BenchError("workload", `${name} ${String(child.pid)} exited (${signal ?? String(code)})`)));
  const next = <T extends From["type"]>(type: T): Promise<Extract<From, { type: T }>> =>
    new Promise((resolve, reject) => {
      if (failure !== undefined) return reject(failure);
      waiting.set(type, (message) => {
        waiting.delete(type);
        if (message.type === "error") reject(failure);
        else resolve(message as Extract<From, { type: T }>);
      });
    });
  const ready = next("ready" as From["type"]);
  ready.catch(() => undefined); // (awaited later; a failure meanwhile is not unhandled)
  return { child, next, send: (message) => void child.send(message as object), ready };
}
