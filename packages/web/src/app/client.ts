import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { JobService } from "@jobexec/proto";
import { signal } from "@preact/signals";
import type { Session } from "./session.ts";

/** The page's JobService client. */
export type JobClient = Client<typeof JobService>;

/** Set once a call was refused for its token: the `jobexec ui` that served the page has ended or restarted. */
export const sessionLost = signal(false);

/** A client of the console's JobService (which forwards to the server) carrying the session token on every call. */
export function jobClient(session: Session): JobClient {
  const transport = createConnectTransport({
    baseUrl: `${location.origin}/api`,
    useBinaryFormat: true,
    fetch: (input, init) => globalThis.fetch(input, { ...init, credentials: "omit" }),
    interceptors: [
      (next) => async (request) => {
        request.header.set("Authorization", `Bearer ${session.token}`);
        try {
          return await next(request);
        } catch (error) {
          if (error instanceof ConnectError && error.code === Code.Unauthenticated) sessionLost.value = true;
          throw error;
        }
      },
    ],
  });
  return createClient(JobService, transport);
}

/** An error as the server phrased it (its message without Connect's "[code]" prefix). */
export function errorText(error: unknown): string {
  if (error instanceof ConnectError) return error.rawMessage || Code[error.code];
  return error instanceof Error ? error.message : String(error);
}

/** Whether an error is the end of a call the page cancelled. */
export function cancelled(error: unknown): boolean {
  return error instanceof ConnectError && error.code === Code.Canceled;
}
