import type { JobManager } from "@jobexec/core";
import type { JobService } from "@jobexec/proto";
import { accessibleJob, listFilter } from "./access.ts";
import type { GuardedImpl } from "./guard.ts";
import { jobMessage, outputStreamMessage } from "./job-message.ts";
import { graceMs, jobSpec, outputOptions } from "./requests.ts";

/** Running jobs per identity: for users and for admins. */
export interface MaxJobs {
  perUser: number;
  admin: number;
}

/** The JobService handlers over a JobManager; {@link guard} supplies the authenticated caller. */
export function jobService(manager: JobManager, maxJobs: MaxJobs): GuardedImpl<typeof JobService> {
  return {
    async startJob(req, call) {
      const quota = call.caller.admin ? { maxRunning: maxJobs.admin, name: "--max-jobs-admin" } : { maxRunning: maxJobs.perUser, name: "--max-jobs-per-user" };
      const job = await manager.start(jobSpec(req), call.caller.name, { quota });
      call.jobId = job.id;
      return { job: jobMessage(job) };
    },

    async stopJob(req, call) {
      call.jobId = req.id;
      const grace = graceMs(req.gracePeriod);
      const job = await accessibleJob(manager, call.caller, req.id);
      const stopped = await manager.stop(job.id, { by: call.caller.name, signal: call.signal, ...(grace === undefined ? {} : { graceMs: grace }) });
      return { job: jobMessage(stopped) };
    },

    async deleteJob(req, call) {
      call.jobId = req.id;
      const job = await accessibleJob(manager, call.caller, req.id);
      return { job: jobMessage(await manager.delete(job.id)) };
    },

    async getJob(req, call) {
      call.jobId = req.id;
      return { job: jobMessage(await accessibleJob(manager, call.caller, req.id)) };
    },

    async listJobs(req, call) {
      const jobs = await manager.list(listFilter(call.caller, req));
      return { jobs: jobs.map(jobMessage) };
    },

    async *streamOutput(req, call) {
      call.jobId = req.id;
      const options = outputOptions(req);
      const job = await accessibleJob(manager, call.caller, req.id);
      // Pull-based: the next chunk is read only after the previous one was written to the HTTP/2 stream.
      for await (const chunk of manager.output(job.id, { ...options, signal: call.signal })) {
        yield { event: { case: "chunk", value: { stream: outputStreamMessage(chunk.stream), offset: BigInt(chunk.offset), data: chunk.data } } };
      }
      // Cut short by the server shutting down or the client leaving: end with that reason, not a status.
      if (call.signal.aborted) throw call.signal.reason;
      yield { event: { case: "job", value: jobMessage(await manager.get(job.id)) } };
    },
  };
}
