import type { Server } from "node:net";
import { ServerError } from "../error.ts";

/** `host:port`, with an IPv6 host in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Listens on host:port. A failure is a ServerError "listen" in one sentence: `cannot <doing> on HOST:PORT: the
 * address is in use` (or permission denied, or the system's message).
 */
export async function listenOn(server: Server, host: string, port: number, doing: string): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === "EADDRINUSE" ? "the address is in use" : code === "EACCES" ? "permission denied" : (cause as Error).message;
    throw new ServerError("listen", `cannot ${doing} on ${hostPort(host, port)}: ${why}`, { cause });
  }
}
