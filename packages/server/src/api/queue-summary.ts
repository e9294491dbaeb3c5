// GetQueueSummary: each owner's running and queued jobs with what they reserve, and the host's totals against the
// capacities admission works with.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { JobManager } from "@jobexec/core";
import type { GetQueueSummaryRequest, GetQueueSummaryResponseSchema } from "@jobexec/proto";
import type { Caller } from "../network/identity.ts";
import { listFilter } from "./access.ts";

/** The summary `caller` may see: their own line (admins: everyone's, or one owner's) and the host's totals. */
export function queueSummary(
  manager: JobManager,
  maxJobs: { perUser: number; admin: number },
  caller: Caller,
  req: GetQueueSummaryRequest,
): MessageInitShape<typeof GetQueueSummaryResponseSchema> {
  const { owner } = listFilter(caller, { states: [], allOwners: req.allOwners, owner: req.owner });
  const host = manager.queueFigures;
  return {
    owners: manager.queueOwners(owner).map((o) => ({
      owner: o.owner,
      running: o.running,
      queued: o.queued,
      held: o.held,
      reservedMemoryBytes: BigInt(o.reservedMemoryBytes),
      reservedCpus: o.reservedCpus,
      weight: o.weight,
      nextReason: o.next,
    })),
    host: {
      running: host.running,
      queued: host.queued,
      held: host.held,
      reservedMemoryBytes: BigInt(host.reservedMemoryBytes),
      reservedCpus: host.reservedCpus,
      maxRunning: Number.isFinite(host.capacity.maxRunning) ? host.capacity.maxRunning : 0,
      memoryCapacityBytes: BigInt(host.capacity.memoryBytes),
      cpuCapacity: host.capacity.cpus,
      maxRunningPerUser: maxJobs.perUser,
      maxRunningPerAdmin: maxJobs.admin,
    },
  };
}
