// Log lines for events a client can cause at any rate (refused connections, failed handshakes): bounded per interval.
import type { LogFields, Logger, LogLevel } from "./log.ts";

/** How long a throttled log gathers events into one line. */
export const THROTTLE_MS = 10_000;

/**
 * One kind of event, logged at most once per interval: the first at once (`count` 1), later ones in the same interval
 * as one line when it ends, with their `count` and the fields of the last of them.
 */
export class ThrottledLog {
  readonly #log: Logger;
  readonly #level: LogLevel;
  readonly #message: string;
  readonly #intervalMs: number;
  #count = 0;
  #fields: LogFields = {};
  #timer: NodeJS.Timeout | undefined;

  constructor(log: Logger, level: LogLevel, message: string, intervalMs = THROTTLE_MS) {
    this.#log = log;
    this.#level = level;
    this.#message = message;
    this.#intervalMs = intervalMs;
  }

  /** Records one event. */
  note(fields: LogFields = {}): void {
    if (this.#timer === undefined) {
      this.#log[this.#level](this.#message, { count: 1, ...fields });
      this.#arm();
      return;
    }
    this.#count++;
    this.#fields = fields;
  }

  #arm(): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#count === 0) return;
      this.#log[this.#level](this.#message, { count: this.#count, seconds: this.#intervalMs / 1000, ...this.#fields });
      this.#count = 0;
      this.#arm();
    }, this.#intervalMs);
    this.#timer.unref();
  }
}
