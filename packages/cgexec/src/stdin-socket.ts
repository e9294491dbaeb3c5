// The two-way standard input of a child that runs cgexec-enter: its spec goes out on it, its status comes back.
import type { ChildProcess } from "node:child_process";
import { Socket } from "node:net";
import type { Duplex } from "node:stream";

/**
 * The child's standard input pipe, both ways, from this side. Node marks every descriptor above 2 close-on-exec in the
 * child and offers no way to clear it, so only standard input reaches cgexec-enter (through a standby's or cgexec's
 * exec too); libuv's stdio pipes are socket pairs, and so both ways, but Node wraps the child's stdin write-only: a
 * second socket on the same handle, half-open (ending the write side, which is the spec's end, keeps the read side),
 * does both, and takes the place of `child.stdin`. Null when the child has no stdin pipe.
 */
export function stdinSocket(child: ChildProcess): Duplex | null {
  const handle = (child.stdin as unknown as { _handle?: unknown } | null)?._handle;
  if (handle === undefined || handle === null) return null;
  const socket = new Socket({ handle, readable: true, writable: true, allowHalfOpen: true } as ConstructorParameters<typeof Socket>[0]);
  // A child gone before the spec is written reads as EPIPE here; its exit and its status say the rest.
  socket.on("error", () => undefined);
  // Node destroys child.stdin when the child exits, which would close the handle under this socket before it read what
  // the child wrote last (its status): this socket owns the handle now, and is closed once it read to the end.
  (child as { stdin: unknown }).stdin = null;
  socket.once("end", () => socket.destroy());
  return socket;
}
