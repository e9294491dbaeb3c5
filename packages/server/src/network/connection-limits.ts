// How many connections the server takes: in total, per identity, and within its file descriptor budget.
import type { Caller } from "./identity.ts";

/**
 * Connections admins may open beyond --max-connections: when clients hold every connection they may, an admin can
 * still connect, check health and start or stop jobs.
 */
export const ADMIN_HEADROOM = 32;

/**
 * Connections the metrics endpoint takes at most (a scraper or two need one each). It is plain HTTP on an address
 * any local process may reach, jobs included: without a cap, a job holding connections to it would use up the
 * descriptors the API's limits count on.
 */
export const METRICS_MAX_CONNECTIONS = 8;

/** The connection limits in force, after fitting them to the process's open-file limit. */
export interface ConnectionBudget {
  /** Non-admin connections in total. */
  maxConnections: number;
  /** Sockets accepted at all (handshakes under way included): the rest are closed at once by the kernel listener. */
  maxSockets: number;
  /** File descriptors left for everything else (jobs being started, output files, the store, the metrics endpoint). */
  reserve: number;
  /** Connections the metrics endpoint takes: counted inside the reserve, at most an eighth of it. */
  metricsConnections: number;
  /** Set when --max-connections did not fit under the open-file limit and was lowered. */
  loweredFrom?: number;
}

/**
 * Fits `maxConnections` plus the admins' headroom and the descriptor reserve under `fileLimit` (the soft
 * RLIMIT_NOFILE; undefined: no limit). The reserve is at most a quarter of the limit, so that a small limit still
 * leaves most descriptors to connections. The metrics endpoint's connections come out of the reserve, so that
 * whatever happens on the metrics port, the API's sockets (the admins' headroom included) still fit.
 */
export function connectionBudget(maxConnections: number, fdReserve: number, fileLimit: number | undefined): ConnectionBudget {
  const reserve = fileLimit === undefined ? fdReserve : Math.min(fdReserve, Math.floor(fileLimit / 4));
  const metricsConnections = Math.max(1, Math.min(METRICS_MAX_CONNECTIONS, Math.floor(reserve / 8)));
  const fits = fileLimit === undefined ? maxConnections : Math.max(1, fileLimit - reserve - ADMIN_HEADROOM);
  if (maxConnections <= fits) return { maxConnections, maxSockets: maxConnections + ADMIN_HEADROOM, reserve, metricsConnections };
  return { maxConnections: fits, maxSockets: fits + ADMIN_HEADROOM, reserve, metricsConnections, loweredFrom: maxConnections };
}

/** Counts connections by identity and decides, after the handshake, whether each may stay. */
export class ConnectionCounter {
  readonly #budget: ConnectionBudget;
  readonly #perIdentity: number;
  readonly #byIdentity = new Map<string, number>();
  /** Sockets accepted and not yet closed, whether or not their handshake is done. */
  #sockets = 0;
  /** Connections admitted and not yet closed, of non-admins. */
  #clients = 0;

  constructor(budget: ConnectionBudget, perIdentity: number) {
    this.#budget = budget;
    this.#perIdentity = perIdentity;
  }

  /** Sockets open now. */
  get sockets(): number {
    return this.#sockets;
  }

  /** Connections of `name` counted now. */
  of(name: string): number {
    return this.#byIdentity.get(name) ?? 0;
  }

  /** A socket was accepted; the returned function records its close (idempotent). */
  accepted(): () => void {
    this.#sockets++;
    let open = true;
    return () => {
      if (open) this.#sockets--;
      open = false;
    };
  }

  /**
   * Admits a connection of `caller` whose handshake is done: counted for its identity, with the function that
   * uncounts it; or the sentence saying which limit refuses it (it is then not counted).
   */
  admit(caller: Caller): { leave: () => void } | { refusal: string } {
    const held = this.of(caller.name);
    if (held >= this.#perIdentity) {
      return { refusal: `too many connections: ${caller.name} already has ${held} open, the most one identity may have; close some or reuse them` };
    }
    if (!caller.admin && this.#clients >= this.#budget.maxConnections) {
      return { refusal: `the server has ${this.#budget.maxConnections} connections open, as many as it takes from clients; try again later` };
    }
    this.#byIdentity.set(caller.name, held + 1);
    if (!caller.admin) this.#clients++;
    let counted = true;
    return {
      leave: () => {
        if (!counted) return;
        counted = false;
        if (!caller.admin) this.#clients--;
        const now = this.of(caller.name) - 1;
        if (now > 0) this.#byIdentity.set(caller.name, now);
        else this.#byIdentity.delete(caller.name);
      },
    };
  }
}
