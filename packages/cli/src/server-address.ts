import { CliError } from "./errors.ts";

/** The port jobexec-server listens on unless told otherwise. */
export const defaultPort = 50051;

/**
 * Turns a --server value into the https base URL of the server: "HOST:PORT", "HOST" (port 50051), "[IPv6]:PORT",
 * or a full "https://HOST:PORT" URL.
 */
export function serverUrl(address: string): URL {
  const text = address.trim();
  let url: URL | undefined;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`);
  } catch {
    url = undefined;
  }
  const valid = url !== undefined && url.protocol === "https:" && url.hostname !== "" && url.pathname === "/" &&
    url.search === "" && url.username === "" && !text.endsWith(":");
  if (!valid || url === undefined) {
    throw new CliError("usage", `--server: "${address}" is not a server address; use HOST:PORT, e.g. 127.0.0.1:${defaultPort} or jobs.example.com:${defaultPort}`);
  }
  if (url.port === "") url.port = String(defaultPort);
  return url;
}
