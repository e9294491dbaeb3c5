// Reading a job's output files: from offsets or the last N lines, once or following until the job ends.
import { open, stat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode } from "../cgroup/cgroup-fs.ts";
import type { OutputChunk, OutputStart, StreamName } from "../types.ts";
import type { OutputWatch } from "./output-watch.ts";
import { holdChunk, maxChunkBytes, readChunk, releaseChunk } from "./chunk-buffers.ts";
import { tailOffset } from "./tail-offset.ts";

interface Cursor {
  stream: StreamName;
  /** The reader's own handle; followers have none and read through the watch's shared one. */
  file: FileHandle | undefined;
  position: number;
  /** The file's size when last measured: bytes up to it can be read without measuring again. */
  size: number;
  /** Measures the file. */
  measure: () => Promise<number>;
}

/** A cursor per stream at its start; none when the job never ran (it has no output files). */
async function openCursors(dir: string, streams: readonly StreamName[], from: OutputStart | undefined, watch: OutputWatch | undefined): Promise<Cursor[]> {
  const cursors: Cursor[] = [];
  try {
    for (const stream of streams) {
      const path = join(dir, stream);
      const opened = (): Promise<FileHandle> => open(path, "r");
      const file = watch === undefined ? await opened() : await watch.file(stream, opened);
      const own = watch === undefined ? file : undefined;
      // (Followers by path; once the files are removed at close(), by the shared handle.)
      const measure = own !== undefined ? () => sizeOf(own) : () => sizeOf(path).catch(() => sizeOf(file));
      cursors.push({ stream, file: own, position: 0, size: 0, measure });
      if (from === undefined) continue;
      const cursor = cursors[cursors.length - 1] as Cursor;
      if ("tailLines" in from) cursor.position = await tailOffset(file, (await file.stat()).size, from.tailLines);
      else cursor.position = from[stream] ?? 0;
    }
  } catch (err) {
    await Promise.all(cursors.map((c) => c.file?.close()));
    if (errnoCode(err) === "ENOENT") return []; // a job that never ran has no output files
    throw err;
  }
  return cursors;
}

async function sizeOf(file: FileHandle | string): Promise<number> {
  return (typeof file === "string" ? await stat(file) : await file.stat()).size;
}

/**
 * Yields the output of the job whose files are in `dir`, one chunk of at most {@link maxChunkBytes} bytes at a
 * time, alternating between streams. With `follow` it waits on `watch` for more until the job ended and
 * every byte was read (the files are read to EOF once more after the end). An abort of `signal` ends it and
 * releases its file handles and its share of the watch at once, even while the consumer is not pulling.
 */
export async function* readOutput(
  dir: string,
  watch: OutputWatch,
  streams: readonly StreamName[],
  options: { follow: boolean; from?: OutputStart; signal?: AbortSignal },
): AsyncGenerator<OutputChunk> {
  const { signal } = options;
  if (signal?.aborted) return;
  const release = options.follow && !watch.ended ? watch.follow() : undefined;
  // Followers share one measurement of each file per change and one read handle per file; other readers have
  // their own.
  const following = release !== undefined;
  const shared = (stream: StreamName): Promise<FileHandle> => watch.file(stream, () => open(join(dir, stream), "r"));
  let cursors: Cursor[] = [];
  let closed = false;
  const closing: Promise<void>[] = [];
  // Ends the wait for a change at once, withdrawing it from the watch (no abort listener per wait: the one below).
  let stopWaiting: (() => void) | undefined;
  // Runs on abort (at once) and at the end; a second run closes only handles opened after the first.
  const close = (): void => {
    closed = true;
    stopWaiting?.();
    if (release !== undefined) closing.push(release());
    for (const c of cursors.splice(0)) if (c.file !== undefined) closing.push(c.file.close().catch(() => undefined));
  };
  signal?.addEventListener("abort", close, { once: true });
  try {
    cursors = await openCursors(dir, streams, options.from, following ? watch : undefined);
    if (closed) return;
    for (;;) {
      // Noted before measuring: a change or the end arriving after it makes the wait return at once.
      const generation = watch.generation;
      const ended = watch.ended;
      // Whether every stream was measured in this round and read up to that size: only then may we wait.
      let drained = true;
      for (const cursor of cursors) {
        let data: Buffer;
        try {
          // Bytes known to be there are read without measuring; otherwise measure first, so an idle
          // follower woken for nothing allocates nothing.
          if (cursor.position >= cursor.size) {
            // Followers share one measurement per change.
            cursor.size = cursor.file === undefined ? await watch.size(cursor.stream, cursor.measure) : await cursor.measure();
            if (closed) return;
            if (cursor.position >= cursor.size) continue;
          } else {
            drained = false;
          }
          const { stream, file: own, position } = cursor;
          const length = Math.min(maxChunkBytes, cursor.size - position);
          // Either way this reader holds the data for its consumer (chunk-buffers.ts).
          if (own === undefined) {
            data = await watch.chunk(stream, position, length, async () => readChunk(await shared(stream), position, length));
          } else {
            data = await readChunk(own, position, length);
            holdChunk(data);
          }
        } catch (err) {
          if (closed) return; // aborted while reading
          throw err;
        }
        if (closed || data.length === 0) releaseChunk(data);
        if (closed) return;
        if (data.length === 0) {
          cursor.size = cursor.position; // shorter than measured: measure again next time
          continue;
        }
        const offset = cursor.position;
        cursor.position += data.length;
        if (cursor.position < cursor.size) drained = false;
        yield { stream: cursor.stream, offset, data };
        if (closed) return;
      }
      if (!drained) continue;
      if (!options.follow || ended || closed) return;
      await new Promise<void>((resolve) => {
        const withdraw = watch.onChange(generation, resolve);
        stopWaiting = () => {
          withdraw();
          resolve();
        };
      });
      stopWaiting = undefined;
      if (closed) return;
    }
  } finally {
    signal?.removeEventListener("abort", close);
    close();
    await Promise.all(closing);
  }
}
