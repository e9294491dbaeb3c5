import { Code, ConnectError, type Client, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { JobService } from "@jobexec/proto";

/** Options of {@link jobProxy}. */
export interface ProxyOptions {
  readOnly: boolean;
  /** A failure of the CLI's own connection (not a status from the server) as the sentence `jobexec` would print. */
  describe: (error: unknown) => Promise<string>;
}

/**
 * The server's answer as the page's: its code and its message as the server phrased it; the upstream metadata (gRPC
 * headers and trailers) is not passed on. A failure of our connection (TLS, unreachable) is phrased as the CLI does.
 */
async function relay(error: unknown, describe: ProxyOptions["describe"]): Promise<ConnectError> {
  if (error instanceof ConnectError && error.metadata.has("grpc-status")) return new ConnectError(error.rawMessage, error.code);
  if (error instanceof ConnectError && error.code === Code.Canceled) return new ConnectError("cancelled", Code.Canceled);
  return new ConnectError(await describe(error), Code.Unavailable);
}

/**
 * The console's JobService: every method of the allow-list calls the same method of the real server over the CLI's
 * mutual-TLS client, as the user; each call ends with the page's (its signal). Nothing else is forwarded.
 */
export function jobProxy(client: Client<typeof JobService>, { readOnly, describe }: ProxyOptions): Partial<ServiceImpl<typeof JobService>> {
  const call = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      throw await relay(error, describe);
    }
  };
  async function* stream<T>(run: () => AsyncIterable<T>): AsyncIterable<T> {
    try {
      yield* run();
    } catch (error) {
      throw await relay(error, describe);
    }
  }
  const refuse = async (): Promise<never> => {
    throw new ConnectError("this console is read-only (jobexec ui --read-only): it does not start, stop or delete jobs", Code.PermissionDenied);
  };
  const signal = (context: HandlerContext) => ({ signal: context.signal });
  return {
    getJob: (request, context) => call(() => client.getJob(request, signal(context))),
    listJobs: (request, context) => call(() => client.listJobs(request, signal(context))),
    streamOutput: (request, context) => stream(() => client.streamOutput(request, signal(context))),
    watchJobs: (request, context) => stream(() => client.watchJobs(request, signal(context))),
    startJob: (request, context) => (readOnly ? refuse() : call(() => client.startJob(request, signal(context)))),
    stopJob: (request, context) => (readOnly ? refuse() : call(() => client.stopJob(request, signal(context)))),
    deleteJob: (request, context) => (readOnly ? refuse() : call(() => client.deleteJob(request, signal(context)))),
  };
}
