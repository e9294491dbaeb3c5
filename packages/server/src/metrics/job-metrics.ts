import type { MessageInitShape } from "@bufbuild/protobuf";
import { JobState, OutputStream, type JobService, type StreamOutputResponseSchema } from "@jobexec/proto";
import type { GuardedImpl } from "../api/guard.ts";
import type { ServerMetrics } from "./metrics.ts";

type StreamOutputResponseInit = MessageInitShape<typeof StreamOutputResponseSchema>;

/**
 * The JobService handlers, measured: each StartJob's outcome and its time from request to running program, and the
 * output bytes StreamOutput sends. The handlers themselves are unchanged.
 */
export function withJobMetrics(impl: GuardedImpl<typeof JobService>, metrics: ServerMetrics): GuardedImpl<typeof JobService> {
  return {
    ...impl,

    async startJob(req, call) {
      const began = performance.now();
      let res;
      try {
        res = await impl.startJob(req, call);
      } catch (error) {
        metrics.jobStarted("refused", call.caller.name);
        throw error;
      }
      // A program that cannot be executed is a job that ends FAILED at once; start() resolves only after either.
      const outcome = res.job?.state === JobState.FAILED ? "failed" : res.job?.state === JobState.QUEUED ? "queued" : "started";
      metrics.jobStarted(outcome, call.caller.name, (performance.now() - began) / 1000);
      return res;
    },

    async *streamOutput(req, call) {
      const count = (res: StreamOutputResponseInit): void => {
        if (res.event?.case === "chunk") {
          const { stream, data } = res.event.value;
          metrics.outputStreamed(stream === OutputStream.STDERR ? "stderr" : "stdout", data?.length ?? 0);
        }
      };
      // Responses pushed past the generators are counted on their way too.
      const { push } = call;
      if (push !== undefined) {
        call.push = {
          send: (res) => {
            count(res);
            return push.send(res);
          },
          ready: () => push.ready(),
        };
      }
      for await (const res of impl.streamOutput(req, call)) {
        count(res);
        yield res;
      }
    },
  };
}
