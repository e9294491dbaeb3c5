// The checks every request to the console passes before anything else: it is addressed to us by a name the browser
// cannot be tricked into (DNS rebinding), and a browser sent it from our own page, never from another site.
import type { IncomingHttpHeaders } from "node:http";
import { isIP } from "node:net";

/** Whether a listen host is a loopback address (127.0.0.0/8, ::1) or "localhost". */
export function isLoopback(host: string): boolean {
  if (host === "localhost" || host === "::1") return true;
  return isIP(host) === 4 && host.startsWith("127.");
}

/** A host as it appears in a Host header or URL: IPv6 addresses in brackets. */
export function hostForUrl(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/**
 * The Host headers the console answers to on `port`: the loopback names, and the address it listens on when that is
 * another one. Nothing else: a DNS name that resolves to 127.0.0.1 (a rebinding attack's page) is refused.
 */
export function allowedHosts(listenHost: string, port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `${hostForUrl(listenHost)}:${port}`]);
}

/** Why a request is refused before it is read: its status and a short message; undefined when it may proceed. */
export interface Refusal {
  status: number;
  message: string;
}

/**
 * Checks the Host and, when sent, the Origin and Sec-Fetch-Site headers. `sameOriginOnly` (calls, not page loads)
 * also requires a browser's Sec-Fetch-Site, when it sends one, to say same-origin.
 */
export function checkRequest(headers: IncomingHttpHeaders, hosts: Set<string>, { sameOriginOnly }: { sameOriginOnly: boolean }): Refusal | undefined {
  const host = headers.host;
  if (host === undefined || !hosts.has(host.toLowerCase())) return { status: 421, message: "wrong Host: this console answers only to its loopback address" };
  const origin = headers.origin;
  if (origin !== undefined && origin !== `http://${host.toLowerCase()}`) return { status: 403, message: "foreign Origin refused" };
  const site = headers["sec-fetch-site"];
  if (sameOriginOnly && site !== undefined && site !== "same-origin") return { status: 403, message: "cross-site request refused" };
  return undefined;
}
