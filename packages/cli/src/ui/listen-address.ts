import { isIP } from "node:net";
import { CliError } from "../errors.ts";

/** A `--listen` value, HOST:PORT (IPv6 in brackets), as a host and a port (0: any free one). */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  const hostOk = host !== undefined && (match?.[1] !== undefined ? isIP(host) === 6 : isIP(host) === 4 || host === "localhost");
  if (!hostOk || !(port >= 0 && port <= 65535)) {
    throw new CliError("usage", `--listen: "${text}" is not an address to listen on; use IP:PORT, e.g. 127.0.0.1:0 (any free port) or [::1]:8080`);
  }
  return { host: host as string, port };
}
