import { randomBytes, timingSafeEqual } from "node:crypto";

/** A fresh random secret of 256 bits, base64url. */
export function newSecret(): string {
  return randomBytes(32).toString("base64url");
}

/** Whether `given` equals `secret`, in time that does not depend on where they differ. */
export function sameSecret(given: string, secret: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The console's secrets for one run: a one-time code (in the URL the browser is opened on) that a page exchanges
 * once for the session token, which every call then carries as `Authorization: Bearer`.
 */
export class Secrets {
  readonly token = newSecret();
  #code: string | undefined = newSecret();

  /** The one-time code; undefined once it was exchanged. */
  get code(): string | undefined {
    return this.#code;
  }

  /** The session token for the one-time code, once; undefined for a wrong or spent code. */
  exchange(code: string): string | undefined {
    if (this.#code === undefined || !sameSecret(code, this.#code)) return undefined;
    this.#code = undefined;
    return this.token;
  }

  /** Whether an Authorization header carries the session token. */
  authorized(header: string | undefined): boolean {
    return header !== undefined && header.startsWith("Bearer ") && sameSecret(header.slice("Bearer ".length), this.token);
  }
}
