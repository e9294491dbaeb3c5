// How many streaming calls one identity may hold open: each costs server memory for as long as it stays open.
import { Code, ConnectError } from "@connectrpc/connect";
import type { Caller } from "../network/identity.ts";

/** Open streaming calls (StreamOutput, Health/Watch) per identity, at most `max` each. */
export class StreamQuota {
  readonly max: number;
  readonly #open = new Map<string, number>();

  constructor(max: number) {
    this.max = max;
  }

  /** Open streaming calls of `name` now. */
  of(name: string): number {
    return this.#open.get(name) ?? 0;
  }

  /**
   * Counts a streaming call of `caller` and returns the function that ends it (idempotent); over the limit, a
   * RESOURCE_EXHAUSTED ConnectError with a sentence instead.
   */
  enter(caller: Caller): () => void {
    const open = this.of(caller.name);
    if (open >= this.max) {
      throw new ConnectError(`too many open streams: ${caller.name} has ${open} StreamOutput and Watch calls open, the most one identity may have; end some first`, Code.ResourceExhausted);
    }
    this.#open.set(caller.name, open + 1);
    let counted = true;
    return () => {
      if (!counted) return;
      counted = false;
      const now = this.of(caller.name) - 1;
      if (now > 0) this.#open.set(caller.name, now);
      else this.#open.delete(caller.name);
    };
  }
}
