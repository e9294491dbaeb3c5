import { createHash } from "node:crypto";
import type { ClientHttp2Session } from "node:http2";
import { leanFollow } from "./lean-follow.ts";
import { epochMs } from "./stats.ts";

const newline = 0x0a;

/** What a fan-out follower received: its byte count and their SHA-256, to compare with the job's output file. */
export interface FollowedDigest {
  bytes: number;
  sha256: string;
  /** Output messages (chunks) it took. */
  messages: number;
}

/** A follower of the fan-out job, measuring write-to-receive latency. */
export interface Follower {
  /** Receive time minus the writer's timestamp, per complete line written at or after `from()`. */
  samples: number[];
  /** Resolves at the first chunk (NaN if the stream ended without one). */
  attached: Promise<number>;
  done: Promise<FollowedDigest>;
}

/**
 * Follows the fan-out job's stdout (lines "<seq> <epoch ms>") and turns each chunk into latencies: for every
 * complete line, receive time minus the timestamp the writer put in it; only lines written at or after `from()`
 * count (earlier ones are backlog). Hashes what it receives instead of keeping it. Over the lean client
 * (lean-follow.ts), one HTTP/2 stream of `session`.
 */
export function startFollower(session: ClientHttp2Session, id: string, from: () => number): Follower {
  const samples: number[] = [];
  const decoder = new TextDecoder();
  const hash = createHash("sha256");
  const { promise: attached, resolve: markAttached } = Promise.withResolvers<number>();
  let partial = "";
  let messages = 0;
  const done = leanFollow(session, id, (data) => {
    const received = epochMs();
    messages++;
    markAttached(received);
    hash.update(data);
    if (data.lastIndexOf(newline) < 0) {
      partial += decoder.decode(data);
      return;
    }
    const lines = (partial + decoder.decode(data)).split("\n");
    partial = lines.pop() ?? "";
    const since = from();
    for (const line of lines) {
      const written = Number(line.slice(line.indexOf(" ") + 1));
      if (written >= since) samples.push(received - written);
    }
  }).then((followed) => ({ bytes: followed.bytes, sha256: hash.digest("hex"), messages }));
  // A stream that ends or fails before its first chunk must not leave `attached` pending forever.
  void done.then(
    () => markAttached(Number.NaN),
    () => markAttached(Number.NaN),
  );
  return { samples, attached, done };
}
