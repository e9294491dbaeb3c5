import { Code, ConnectError } from "@connectrpc/connect";
import { JobError, type GetOptions, type Job, type JobManager, type ListFilter } from "@jobexec/core";
import type { ListJobsRequest } from "@jobexec/proto";
import type { Caller } from "../network/identity.ts";
import { jobId, jobStates } from "./requests.ts";

// Every decision about who may see or touch a job is made in this file.

/** Whether `caller` may see and act on `job`: its owner, or an admin. */
export function mayAccess(caller: Caller, job: Pick<Job, "owner">): boolean {
  return caller.admin || job.owner === caller.name;
}

/** The one answer for a job that does not exist and for a job that is not the caller's: nothing to tell them apart. */
export function jobNotFound(id: string): ConnectError {
  return new ConnectError(`job ${id} not found`, Code.NotFound);
}

/** Fetches a job the caller may access, by a request's id field; NOT_FOUND otherwise. `options` go to get(). */
export async function accessibleJob(manager: JobManager, caller: Caller, id: string, options: GetOptions = {}): Promise<Job> {
  jobId(id);
  let job: Job;
  try {
    job = await manager.get(id, options);
  } catch (err) {
    if (err instanceof JobError && err.code === "not_found") throw jobNotFound(id);
    throw err;
  }
  if (!mayAccess(caller, job)) throw jobNotFound(id);
  return job;
}

/** The list filter a ListJobs request amounts to for `caller`; PERMISSION_DENIED when a user asks for others' jobs. */
export function listFilter(caller: Caller, req: Pick<ListJobsRequest, "states" | "allOwners" | "owner">): ListFilter {
  const states = jobStates(req.states);
  if (!caller.admin && (req.allOwners || req.owner !== "")) {
    throw new ConnectError("only admins may list other users' jobs (all_owners, owner)", Code.PermissionDenied);
  }
  const owner = caller.admin ? (req.owner !== "" ? req.owner : req.allOwners ? undefined : caller.name) : caller.name;
  return { ...(owner === undefined ? {} : { owner }), ...(states ? { states } : {}) };
}
