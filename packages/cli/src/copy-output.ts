import type { Client } from "@connectrpc/connect";
import { OutputStream, type Job, type JobService } from "@jobexec/proto";
import { CliError } from "./errors.ts";
import { writeBytes } from "./write-output.ts";

/** What part of a job's output to copy. */
export interface CopyRequest {
  id: string;
  stream: "stdout" | "stderr" | "both";
  follow: boolean;
  /** Start each stream at its last N lines; 0 starts at the beginning. */
  tailLines: number;
}

const streams = { stdout: OutputStream.STDOUT, stderr: OutputStream.STDERR, both: OutputStream.BOTH } as const;

/**
 * Streams a job's output and copies it byte for byte: stdout chunks to our stdout, stderr chunks to our stderr.
 * Returns the job's status that ends every stream (its final status when following).
 */
export async function copyOutput(client: Client<typeof JobService>, request: CopyRequest, signal: AbortSignal): Promise<Job> {
  let last: Job | undefined;
  const responses = client.streamOutput(
    { id: request.id, stream: streams[request.stream], follow: request.follow, tailLines: BigInt(request.tailLines) },
    { signal },
  );
  for await (const response of responses) {
    const event = response.event;
    if (event.case === "chunk") {
      await writeBytes(event.value.stream === OutputStream.STDERR ? process.stderr : process.stdout, event.value.data);
    } else if (event.case === "job") {
      last = event.value;
    }
  }
  if (last === undefined) throw new CliError("failed", `the output stream of job ${request.id} ended without the job's status`);
  return last;
}
