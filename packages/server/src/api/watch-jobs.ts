// WatchJobs: the changes of the jobs a caller may see, from the manager's change log, with a bounded backlog.
import { Code, ConnectError } from "@connectrpc/connect";
import { isJobId, type JobChange, type JobChangeKind, type JobManager } from "@jobexec/core";
import { JobChangeKind as Kind, type WatchJobsRequest, type WatchJobsResponse, WatchJobsResponseSchema } from "@jobexec/proto";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { listFilter } from "./access.ts";
import type { StreamingCall } from "./guard.ts";
import { jobMessage } from "./job-message.ts";

type Response = MessageInitShape<typeof WatchJobsResponseSchema>;

const kinds: Record<JobChangeKind, Kind> = { created: Kind.CREATED, started: Kind.STARTED, ended: Kind.ENDED, deleted: Kind.DELETED };

// Each change's message, made once and sent to every watcher: converting a job is most of what a watcher costs.
const messages = new WeakMap<JobChange, WatchJobsResponse>();

function changeMessage(change: JobChange): WatchJobsResponse {
  let message = messages.get(change);
  if (message === undefined) {
    message = create(WatchJobsResponseSchema, { event: { case: "change", value: { sequence: BigInt(change.sequence), kind: kinds[change.kind], job: jobMessage(change.job) } } });
    messages.set(change, message);
  }
  return message;
}

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/**
 * Streams the position, then the missed changes (when resuming), then every change as it happens, of the jobs the
 * request's filter and the caller's rights let through. Changes wait in a backlog while the stream cannot take them
 * (on the gRPC path, the push says so; elsewhere the generator is simply not resumed); past
 * `maxBacklog` (--max-watch-backlog) the watcher stops listening and its call ends with RESOURCE_EXHAUSTED, so that a stalled
 * client costs a bounded amount and never slows the manager or other watchers.
 */
export async function* watchJobs(manager: JobManager, maxBacklog: number, req: WatchJobsRequest, call: StreamingCall<Response>): AsyncGenerator<Response> {
  const filter = listFilter(call.caller, req);
  const ids = new Set(
    req.ids.map((id, i) => {
      if (!isJobId(id)) throw invalid(`ids[${String(i)}] ${JSON.stringify(id.slice(0, 40))} is not a job id (a lowercase UUID)`);
      return id;
    }),
  );
  if (req.resumeEpoch === "" && req.afterSequence !== 0n) throw invalid("after_sequence needs the resume_epoch it belongs to");
  if (req.afterSequence > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid("after_sequence is out of range");
  const from = req.resumeEpoch === "" ? undefined : { epoch: req.resumeEpoch, sequence: Number(req.afterSequence) };
  const matches = (change: JobChange): boolean =>
    (filter.owner === undefined || change.job.owner === filter.owner) &&
    (filter.states === undefined || filter.states.includes(change.job.state)) &&
    (ids.size === 0 || ids.has(change.job.id));

  const backlog: JobChange[] = [];
  let next = 0;
  let overflowed = false;
  let wake: (() => void) | undefined;
  const watching = manager.watch(from, (change) => {
    if (overflowed || !matches(change)) return;
    if (backlog.length - next >= maxBacklog) {
      overflowed = true;
      watching.stop();
    } else backlog.push(change);
    wake?.();
  });
  const onAbort = (): void => wake?.();
  call.signal.addEventListener("abort", onAbort, { once: true });
  try {
    backlog.unshift(...watching.missed.filter(matches));
    const { position } = watching;
    const first: Response = { event: { case: "position", value: { epoch: position.epoch, sequence: BigInt(position.sequence), resync: position.resync, reason: position.reason ?? "" } } };
    const { push } = call;
    let writable = push === undefined ? true : push.send(first);
    if (push === undefined) yield first;
    for (;;) {
      if (call.signal.aborted) throw call.signal.reason;
      if (overflowed) {
        throw new ConnectError(`watcher too slow: more than ${String(maxBacklog)} changes unread (--max-watch-backlog); reconnect with the last sequence seen to resume`, Code.ResourceExhausted);
      }
      if (next < backlog.length && writable) {
        const message = changeMessage(backlog[next++] as JobChange);
        if (push === undefined) yield message;
        else writable = push.send(message);
        // Sent changes are dropped now and then, not one by one.
        if (next >= 1024) {
          backlog.splice(0, next);
          next = 0;
        }
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (!writable && push !== undefined) {
          void push.ready().then(() => {
            writable = true;
            resolve();
          });
        }
      });
      wake = undefined;
    }
  } finally {
    call.signal.removeEventListener("abort", onAbort);
    watching.stop();
  }
}
