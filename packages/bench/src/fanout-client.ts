#!/usr/bin/env node
// A fan-out client process: the parent (figures/fanout.ts) forks several, so that no single client thread limits
// the figure. Messages (advanced serialization):
//   child  -> {type: "ready"}: loaded (its start-up is not in the CPU time measured from here)
//   parent -> {type: "follow", url, tls, jobId, followers, connections}: open the followers over that many connections
//   child  -> {type: "attached", ms}: every follower has its first chunk
//   parent -> {type: "measure", from}: count lines written at or after this epoch ms
//   child  -> {type: "done", samples, copies}: every stream ended (latencies as a Float64Array; bytes and SHA-256 each)
//   parent -> {type: "exit"} (after reading this process's CPU time)
import { benchClient } from "./client.ts";
import { startFollower, type FollowedDigest } from "./fanout-follower.ts";
import type { JobClient } from "./jobs.ts";
import type { Tls } from "./tls.ts";

/** The messages of the protocol above. */
export type ToClient =
  | { type: "follow"; url: string; tls: Pick<Tls, "ca" | "clientCert" | "clientKey">; jobId: string; followers: number; connections: number }
  | { type: "measure"; from: number }
  | { type: "exit" };
export type FromClient =
  | { type: "ready" }
  | { type: "attached"; ms: number }
  | { type: "done"; samples: Float64Array; copies: FollowedDigest[] }
  | { type: "error"; message: string };

const send = (message: FromClient): void => void process.send?.(message);
let from = Number.POSITIVE_INFINITY;

process.on("message", (message: ToClient) => {
  if (message.type === "measure") from = message.from;
  else if (message.type === "exit") process.exit(0);
  else {
    const { url, tls, jobId, followers, connections } = message;
    const clients = Array.from({ length: connections }, () => benchClient(url, tls));
    const started = performance.now();
    const all = Array.from({ length: followers }, (_, i) => startFollower(clients[i % connections] as JobClient, jobId, () => from));
    void Promise.all(all.map((f) => f.attached)).then(() => send({ type: "attached", ms: performance.now() - started }));
    Promise.all(all.map((f) => f.done)).then(
      (copies) => send({ type: "done", samples: Float64Array.from(all.flatMap((f) => f.samples)), copies }),
      (error: unknown) => send({ type: "error", message: error instanceof Error ? error.message : String(error) }),
    );
  }
});
send({ type: "ready" });
