import { Code, ConnectError } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status, JobService, reflectionV1, reflectionV1alpha } from "@jobexec/proto";
import type { GuardedImpl } from "./guard.ts";

/** Services a health check may name; "" is the server as a whole. */
const known = new Set(["", JobService.typeName, Health.typeName, reflectionV1.ServerReflection.typeName, reflectionV1alpha.ServerReflection.typeName]);

/** grpc.health.v1.Health: SERVING for the server and its services while it runs. */
export function healthService(): GuardedImpl<typeof Health> {
  return {
    async check(req) {
      if (!known.has(req.service)) throw new ConnectError(`unknown service ${JSON.stringify(req.service)}`, Code.NotFound);
      return { status: Status.SERVING };
    },

    async *watch(req, call) {
      yield { status: known.has(req.service) ? Status.SERVING : Status.SERVICE_UNKNOWN };
      // The status changes only when the server stops, which aborts the call with UNAVAILABLE.
      if (!call.signal.aborted) await new Promise((resolve) => call.signal.addEventListener("abort", resolve, { once: true }));
      throw call.signal.reason;
    },
  };
}
