#!/usr/bin/env node
// A fan-out client process: the parent (figures/fanout.ts) forks several, so that no single client thread limits
// the figure. Messages (advanced serialization):
//   child  -> {type: "ready"}: loaded (its start-up is not in the CPU time measured from here)
//   parent -> {type: "follow", url, tls, jobId, followers, connections}: open the followers over that many connections
//   child  -> {type: "attached", ms}: every follower has its first chunk
//   parent -> {type: "measure", from}: count lines written at or after this epoch ms
//   child  -> {type: "done", samples, copies}: every stream ended (latencies as a Float64Array; bytes and SHA-256 each)
//   parent -> {type: "exit"} (after reading this process's CPU time)
import type { ClientHttp2Session } from "node:http2";
import { startFollower, type FollowedDigest } from "./fanout-follower.ts";
import { openSession } from "./lean-follow.ts";
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
    const started = performance.now();
    const all = Promise.all(Array.from({ length: connections }, () => openSession(url, tls))).then((sessions) =>
      Array.from({ length: followers }, (_, i) => startFollower(sessions[i % connections] as ClientHttp2Session, jobId, () => from)),
    );
    const fail = (error: unknown): void => send({ type: "error", message: error instanceof Error ? error.message : String(error) });
    all.then(
      (followersOf) => {
        void Promise.all(followersOf.map((f) => f.attached)).then(() => send({ type: "attached", ms: performance.now() - started }));
        Promise.all(followersOf.map((f) => f.done)).then(
          (copies) => send({ type: "done", samples: Float64Array.from(followersOf.flatMap((f) => f.samples)), copies }),
          fail,
        );
      },
      fail,
    );
  }
});
send({ type: "ready" });
