import type { JobManager, OutputChunk } from "@jobexec/core";
import type { JobService } from "@jobexec/proto";
import { accessibleJob, listFilter } from "./access.ts";
import type { GuardedImpl } from "./guard.ts";
import { jobMessage, outputStreamMessage } from "./job-message.ts";
import { continueAfter, listPage, pageSize } from "./list-page.ts";
import { queueSummary } from "./queue-summary.ts";
import { watchJobs } from "./watch-jobs.ts";
import { graceMs, jobSpec, outputOptions, queueOptions, type SpecLimits } from "./requests.ts";

/** The StreamOutputResponse of an output chunk. */
function chunkMessage(chunk: OutputChunk) {
  return { event: { case: "chunk", value: { stream: outputStreamMessage(chunk.stream), offset: BigInt(chunk.offset), data: chunk.data } } } as const;
}

// The messages of chunks core's fan-out hands to many followers at once (the same chunk object to each): one message
// for all of them. Read-only, like the chunk; weak: it lives as long as the chunk does.
const messages = new WeakMap<OutputChunk, ReturnType<typeof chunkMessage>>();

function sharedMessage(chunk: OutputChunk): ReturnType<typeof chunkMessage> {
  let message = messages.get(chunk);
  if (message === undefined) {
    message = chunkMessage(chunk);
    messages.set(chunk, message);
  }
  return message;
}

/** Running jobs per identity: for users and for admins. */
export interface MaxJobs {
  perUser: number;
  admin: number;
}

/** The JobService handlers over a JobManager; {@link guard} supplies the authenticated caller. */
export function jobService(manager: JobManager, maxJobs: MaxJobs, caps: SpecLimits & { maxWatchBacklog: number }): GuardedImpl<typeof JobService> {
  return {
    async startJob(req, call) {
      const quota = call.caller.admin ? { maxRunning: maxJobs.admin, name: "--max-jobs-admin" } : { maxRunning: maxJobs.perUser, name: "--max-running-per-user" };
      const spec = jobSpec(req, caps);
      const queueing = queueOptions(req);
      // Only jobs the caller may see: another user's is NOT_FOUND exactly like a missing one.
      for (const dep of queueing.after ?? []) await accessibleJob(manager, call.caller, dep.id);
      const job = await manager.start(spec, call.caller.name, { quota, ...queueing });
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
      return { job: jobMessage(await accessibleJob(manager, call.caller, req.id, { timeline: req.includeTimeline })) };
    },

    async listJobs(req, call) {
      const filter = listFilter(call.caller, req);
      const size = pageSize(req.pageSize);
      const olderThan = req.pageToken === "" ? undefined : continueAfter(req.pageToken, filter);
      // One job more than the page tells whether there is a next page.
      const jobs = await manager.list({ ...filter, limit: size + 1, ...(olderThan === undefined ? {} : { olderThan }) });
      return listPage(jobs, size, filter);
    },

    async *streamOutput(req, call) {
      call.jobId = req.id;
      const options = outputOptions(req);
      // Only the id is kept: a follower may wait for hours, and its state should be as small as it can be.
      const { id } = await accessibleJob(manager, call.caller, req.id);
      const { push } = call;
      if (push === undefined) {
        // Pull-based: the next chunk is read only after the previous one was written to the HTTP/2 stream.
        for await (const chunk of manager.output(id, { ...options, signal: call.signal })) yield chunkMessage(chunk);
      } else {
        // Pushed (the gRPC path): a follower that caught up is served with the job's other followers from one read
        // per change, and each chunk is written without passing through the generators around this one.
        await manager.deliverOutput(id, { ...options, signal: call.signal }, { write: (chunk) => push.send(sharedMessage(chunk)), ready: () => push.ready() });
      }
      // Cut short by the server shutting down or the client leaving: end with that reason, not a status.
      if (call.signal.aborted) throw call.signal.reason;
      yield { event: { case: "job", value: jobMessage(await manager.get(id)) } };
    },

    watchJobs(req, call) {
      return watchJobs(manager, caps.maxWatchBacklog, req, call);
    },

    async getQueueSummary(req, call) {
      return queueSummary(manager, maxJobs, call.caller, req);
    },
  };
}
