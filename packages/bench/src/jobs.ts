import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import { JobState, OutputStream, type Job, type JobService } from "@jobexec/proto";
import { BenchError } from "./error.ts";
import type { Command } from "./workloads.ts";

/** A JobService client. */
export type JobClient = Client<typeof JobService>;

/** Every job a listing matches, following its pages. */
export async function listAll(client: JobClient, request: { states?: JobState[] } = {}): Promise<Job[]> {
  const jobs: Job[] = [];
  let pageToken = "";
  do {
    const page = await client.listJobs({ ...request, pageToken });
    jobs.push(...page.jobs);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return jobs;
}

/** Starts `command` as a job and returns it (RUNNING). */
export async function startJob(client: JobClient, command: Command): Promise<Job> {
  const { job } = await client.startJob({ program: command.program, args: command.args });
  if (job === undefined) throw new BenchError("workload", "StartJob answered without a job");
  return job;
}

/**
 * Waits until a job has ended, by asking every `everyMs` (a slow poll: the end time comes from the server's own
 * record, so the poll's period does not enter the figure), and checks that it exited 0.
 */
export async function waitEnded(client: JobClient, id: string, everyMs = 100): Promise<Job> {
  for (;;) {
    const { job } = await client.getJob({ id });
    if (job === undefined) throw new BenchError("workload", `GetJob ${id} answered without a job`);
    if (job.state !== JobState.RUNNING) {
      if (job.state !== JobState.EXITED || job.exitCode !== 0) {
        const state = Object.entries(JobState).find(([, value]) => value === job.state)?.[0];
        throw new BenchError("workload", `job ${id} ended ${state} (exit ${job.exitCode}, ${job.signal || "no signal"}, ${job.failureReason})`);
      }
      return job;
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** The epoch milliseconds of a job's end, as the server recorded it. */
export function endedAtMs(job: Job): number {
  if (job.endTime === undefined) throw new BenchError("workload", `job ${job.id} has no end time`);
  return timestampMs(job.endTime);
}

/** What a follower received: every chunk of stdout, in order, and the job status that ended the stream. */
export interface Followed {
  bytes: number;
  chunks: Uint8Array[];
  job: Job;
}

/**
 * Follows a job's stdout from the start to the end of the stream, checking that chunks are contiguous; `onChunk`
 * sees each chunk as it arrives, `keep` says whether to keep the bytes (false for the 1 GiB throughput run).
 */
export async function follow(
  client: JobClient,
  id: string,
  options: { keep: boolean; onChunk?: (data: Uint8Array) => void; signal?: AbortSignal },
): Promise<Followed> {
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  const stream = client.streamOutput({ id, follow: true, stream: OutputStream.STDOUT }, { signal: options.signal });
  for await (const message of stream) {
    const event = message.event;
    if (event.case === "chunk") {
      if (event.value.offset !== BigInt(bytes)) {
        throw new BenchError("workload", `job ${id}: chunk at offset ${event.value.offset} after ${bytes} bytes`);
      }
      bytes += event.value.data.length;
      options.onChunk?.(event.value.data);
      if (options.keep) chunks.push(event.value.data);
    } else if (event.case === "job") {
      return { bytes, chunks, job: event.value };
    }
  }
  throw new BenchError("workload", `job ${id}: the stream ended without the job's status`);
}
