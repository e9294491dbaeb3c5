// Pushing a job's output to a sink: on the follower's own cursor while it catches up, then from the job's fan-out.
import type { OutputSink, OutputStart, StreamName } from "../types.ts";
import { fanoutOf, type Member } from "./output-fanout.ts";
import type { OutputWatch } from "./output-watch.ts";
import { readOutput, startPositions } from "./read-output.ts";

/** Resolves when `promise` settles or `signal` aborts, whichever is first. */
function unlessAborted(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (): void => {
      signal.removeEventListener("abort", done);
      resolve();
    };
    signal.addEventListener("abort", done, { once: true });
    promise.then(done, (error: unknown) => {
      signal.removeEventListener("abort", done);
      reject(error as Error);
    });
  });
}

/** Resolves at the first change of `watch` after `generation` (at once if there was one), or when `signal` aborts. */
function changeSince(watch: OutputWatch, generation: number, signal: AbortSignal | undefined): Promise<void> {
  if (generation !== watch.generation || signal?.aborted === true) return Promise.resolve();
  return new Promise((resolve) => {
    const withdraw = watch.onChange(generation, () => {
      signal?.removeEventListener("abort", abort);
      resolve();
    });
    const abort = (): void => {
      withdraw();
      resolve();
    };
    signal?.addEventListener("abort", abort, { once: true });
  });
}

/**
 * Writes the output of the job whose files are in `dir` to `sink`, as readOutput would yield it, and resolves once
 * every byte was delivered (with `follow`: after the job ended) or `signal` aborted. A follower reads on its own
 * cursor (through the watch's shared handles and chunks) until it has caught up, then joins the job's fan-out
 * (output-fanout.ts), which hands each new chunk to all its members from one read. When the sink is full it leaves
 * the fan-out, waits for `sink.ready()` and catches up on its own cursor again: it holds O(one chunk) meanwhile, and
 * neither the job nor the other followers wait for it.
 */
export async function deliverOutput(
  dir: string,
  watch: OutputWatch,
  streams: readonly StreamName[],
  options: { follow: boolean; from?: OutputStart; signal?: AbortSignal },
  sink: OutputSink,
): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) return;
  if (!options.follow || watch.ended) {
    for await (const chunk of readOutput(dir, watch, streams, { follow: false, from: options.from, signal })) {
      if (!sink.write(chunk)) await unlessAborted(sink.ready(), signal);
    }
    return;
  }
  const release = watch.follow();
  try {
    const positions = await startPositions(dir, watch, streams, options.from);
    if (positions === undefined || signal?.aborted) return; // a job that never ran has no output
    const member: Member = { streams, positions, sink };
    const fanout = fanoutOf(dir, watch);
    for (;;) {
      // Noted before reading: a change or the end after it shows in the fan-out, or in the wait below.
      const generation = watch.generation;
      const ended = watch.ended;
      for await (const chunk of readOutput(dir, watch, streams, { follow: false, shared: true, from: { ...positions }, signal })) {
        positions[chunk.stream] = chunk.offset + chunk.data.length;
        if (!sink.write(chunk)) await unlessAborted(sink.ready(), signal);
      }
      if (ended || signal?.aborted) return;
      const why = await fanout.attend(member, signal);
      if (why === "ended" || why === "aborted") return;
      if (why === "stalled") await unlessAborted(sink.ready(), signal);
      // Not at the fan-out's place: read what it is ahead by (a change since `generation`), or wait for the next.
      else await changeSince(watch, generation, signal);
    }
  } finally {
    await release();
  }
}
