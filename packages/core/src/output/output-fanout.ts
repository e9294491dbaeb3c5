// One delivery loop per job for the followers at its live edge: one wake, one read and one chunk for all of them.
import type { OutputChunk, OutputSink, StreamName } from "../types.ts";
import { holdChunk, releaseChunk } from "./chunk-buffers.ts";
import type { OutputWatch } from "./output-watch.ts";
import { readOutput } from "./read-output.ts";

/** Why a member left the group: the job ended (all delivered), its sink was full, or it was not at the group's place. */
export type Leaving = "ended" | "stalled" | "behind" | "aborted";

/** A follower at the live edge (deliver-output.ts), handed every chunk while it is in the group. */
export interface Member {
  readonly streams: readonly StreamName[];
  /** The next byte of each of its streams, moved on as chunks are delivered to it. */
  readonly positions: Partial<Record<StreamName, number>>;
  readonly sink: OutputSink;
}

interface Attendance {
  member: Member;
  /** Settles the member's attend(): with why it left, or with the error that ended its delivery. */
  leave: (why: Leaving, error?: unknown) => void;
}

const names: readonly StreamName[] = ["stdout", "stderr"];
const fanouts = new WeakMap<OutputWatch, OutputFanout>();

/** The fan-out of the job whose output is in `dir` and changes are told by `watch`, made on first use. */
export function fanoutOf(dir: string, watch: OutputWatch): OutputFanout {
  let fanout = fanouts.get(watch);
  if (fanout === undefined) {
    fanout = new OutputFanout(dir, watch);
    fanouts.set(watch, fanout);
  }
  return fanout;
}

/**
 * The followers of one job that have caught up with its output, served by one loop: at each change it reads the new
 * bytes once (readOutput through the watch's shared handles) and hands the same chunk to every member's sink in
 * turn, synchronously. A sink that says it is full leaves the group at once (having taken that chunk) and catches up
 * on its own; the loop never waits for anyone, so no follower delays the others or the job. A follower joins only at
 * the group's place in each of its streams; one that arrives during a round is admitted when the round ends.
 */
export class OutputFanout {
  readonly #dir: string;
  readonly #watch: OutputWatch;
  /** Members by stream they follow; a member of both streams is in both sets. */
  readonly #members: Record<StreamName, Set<Attendance>> = { stdout: new Set(), stderr: new Set() };
  readonly #all = new Set<Attendance>();
  /** Arrived during a round: admitted (or sent back) when it ends. */
  #pending = new Set<Attendance>();
  /** The next byte the loop delivers of each stream (meaningful while some member follows that stream). */
  readonly #positions: Partial<Record<StreamName, number>> = {};
  #state: "idle" | "waiting" | "reading" = "idle";
  #stopWaiting: (() => void) | undefined;

  constructor(dir: string, watch: OutputWatch) {
    this.#dir = dir;
    this.#watch = watch;
  }

  /** Members now (for tests and diagnostics). */
  get size(): number {
    return this.#all.size;
  }

  /**
   * Takes `member` into the group until it leaves: resolves with why (an abort of `signal` withdraws it: "aborted");
   * rejects with a read error of the loop. "behind" comes at once when it is not at the group's place.
   */
  attend(member: Member, signal: AbortSignal | undefined): Promise<Leaving> {
    const { promise, resolve, reject } = Promise.withResolvers<Leaving>();
    const onAbort = (): void => this.#leave(attendance, "aborted");
    const attendance: Attendance = {
      member,
      leave: (why, error) => {
        signal?.removeEventListener("abort", onAbort);
        if (error === undefined) resolve(why);
        else reject(error);
      },
    };
    if (signal?.aborted) return Promise.resolve("aborted");
    signal?.addEventListener("abort", onAbort, { once: true });
    if (this.#state === "reading") this.#pending.add(attendance);
    else this.#admit(attendance);
    return promise;
  }

  /** Joins `a` if it is at the group's place in each of its streams; otherwise sends it back ("behind"). */
  #admit(a: Attendance): void {
    const { streams, positions } = a.member;
    if (streams.some((s) => this.#members[s].size > 0 && this.#positions[s] !== positions[s])) {
      a.leave("behind");
      return;
    }
    for (const s of streams) {
      if (this.#members[s].size === 0) this.#positions[s] = positions[s] ?? 0;
      this.#members[s].add(a);
    }
    this.#all.add(a);
    if (this.#state === "idle") void this.#run();
  }

  #leave(a: Attendance, why: Leaving, error?: unknown): void {
    this.#pending.delete(a);
    if (this.#all.delete(a)) for (const s of a.member.streams) this.#members[s].delete(a);
    a.leave(why, error);
    if (this.#all.size === 0) this.#stopWaiting?.();
  }

  /** Hands `chunk` to every member of its stream; the loop's own hold on the data is dropped after. */
  #deliver(chunk: OutputChunk): void {
    const end = chunk.offset + chunk.data.length;
    this.#positions[chunk.stream] = end;
    for (const a of this.#members[chunk.stream]) {
      a.member.positions[chunk.stream] = end;
      holdChunk(chunk.data);
      let room: boolean;
      try {
        room = a.member.sink.write(chunk);
      } catch (error) {
        this.#leave(a, "aborted", error);
        continue;
      }
      if (!room) this.#leave(a, "stalled");
    }
    releaseChunk(chunk.data);
  }

  async #run(): Promise<void> {
    const release = this.#watch.follow();
    this.#state = "reading";
    try {
      for (;;) {
        // Noted before reading, as readOutput does: a change during the round wakes the next wait at once.
        const generation = this.#watch.generation;
        const ended = this.#watch.ended;
        const streams = names.filter((s) => this.#members[s].size > 0);
        const from = { ...this.#positions };
        for await (const chunk of readOutput(this.#dir, this.#watch, streams, { follow: false, shared: true, from })) this.#deliver(chunk);
        const pending = this.#pending;
        this.#pending = new Set();
        if (ended) {
          // Every byte was read after the end: members and arrivals at the group's place are done.
          for (const a of [...this.#all]) this.#leave(a, "ended");
          for (const a of pending) a.leave(a.member.streams.every((s) => a.member.positions[s] === this.#positions[s]) ? "ended" : "behind");
          return;
        }
        for (const a of pending) this.#admit(a);
        if (this.#all.size === 0) return;
        this.#state = "waiting";
        await new Promise<void>((resolve) => {
          const withdraw = this.#watch.onChange(generation, () => {
            this.#state = "reading";
            resolve();
          });
          this.#stopWaiting = () => {
            withdraw();
            resolve();
          };
        });
        this.#stopWaiting = undefined;
        this.#state = "reading";
        if (this.#all.size === 0) return;
      }
    } catch (error) {
      // A read failed: every member's delivery ends with the error.
      for (const a of [...this.#all, ...this.#pending]) this.#leave(a, "aborted", error);
    } finally {
      this.#state = "idle";
      await release();
    }
  }
}
