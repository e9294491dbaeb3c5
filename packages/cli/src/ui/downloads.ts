import { newSecret } from "./secrets.ts";

/** What a download link fetches: one stream of a job. */
export interface DownloadTarget {
  id: string;
  stream: "stdout" | "stderr";
}

/**
 * Short-lived single-use download links. A browser downloads by navigating to a URL, which carries no Authorization
 * header: a page with the token asks for a link (POST), and the link's unguessable path is its credential, valid once
 * and for `ttlMs`.
 */
export class DownloadLinks {
  readonly #links = new Map<string, { target: DownloadTarget; expires: number }>();
  readonly #ttlMs: number;

  constructor(ttlMs = 30_000) {
    this.#ttlMs = ttlMs;
  }

  /** A new link's path for a target. */
  create(target: DownloadTarget): string {
    const now = Date.now();
    for (const [key, link] of this.#links) if (link.expires <= now) this.#links.delete(key);
    const key = newSecret();
    this.#links.set(key, { target, expires: now + this.#ttlMs });
    return `/download/${key}`;
  }

  /** The target of a link's key, which is then spent; undefined for an unknown, spent or expired one. */
  take(key: string): DownloadTarget | undefined {
    const link = this.#links.get(key);
    this.#links.delete(key);
    return link === undefined || link.expires <= Date.now() ? undefined : link.target;
  }
}
