import { JobState, type Job } from "@jobexec/proto";
import { useEffect, useState } from "preact/hooks";
import { cancelled, errorText, type JobClient } from "../app/client.ts";
import { ended, stateLabel } from "../app/format.ts";
import { Link } from "../app/link.tsx";
import { navigate } from "../app/router.ts";
import type { StreamChoice } from "../app/url-state.ts";
import { OutputView, type OutputViewProps } from "../output/output-view.tsx";
import { ConfirmButton } from "./confirm-button.tsx";
import { JobFacts } from "./job-facts.tsx";
import { TimelineChart } from "./timeline-chart.tsx";

const pollMs = 2000;

/** A job: its status (refreshed while it runs), its actions and its output. */
export function JobPage({ client, id, stream, line, readOnly, download }: { client: JobClient; id: string; stream: StreamChoice; line: string | undefined; readOnly: boolean; download: OutputViewProps["download"] }) {
  const [job, setJob] = useState<Job | undefined>(undefined);
  const [error, setError] = useState("");
  const [now, setNow] = useState(Date.now());
  const [refresh, setRefresh] = useState(0);
  useEffect(() => {
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async (): Promise<void> => {
      try {
        const response = await client.getJob({ id, includeTimeline: true }, { signal: abort.signal });
        setJob(response.job);
        setNow(Date.now());
        setError("");
        if (response.job !== undefined && !ended(response.job)) timer = setTimeout(load, pollMs);
      } catch (failure) {
        if (cancelled(failure) || abort.signal.aborted) return;
        setError(errorText(failure));
      }
    };
    void load();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [client, id, refresh]);

  if (job === undefined) return <section class="job-page">{error === "" ? <p>Loading…</p> : <p class="error" role="alert">{error}</p>}</section>;
  const act = async (run: () => Promise<unknown>): Promise<void> => {
    try {
      await run();
      setError("");
      setRefresh((n) => n + 1);
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  const state = stateLabel(job);
  return (
    <section class="job-page">
      <header class="job-header">
        <Link to={{ page: "jobs", states: [], owner: "" }} class="back">
          ← Jobs
        </Link>
        <h1>
          <span class={`state state-${state}`}>{state}</span> <code class="job-id">{job.id}</code>
        </h1>
        {!readOnly && (
          <div class="actions">
            {(job.state === JobState.RUNNING || job.state === JobState.QUEUED) && (
              <ConfirmButton
                label={job.state === JobState.QUEUED ? "Cancel" : "Stop"}
                question={job.state === JobState.QUEUED ? "Cancel this queued job? It will never run." : "Stop this job? Its processes get SIGTERM, then SIGKILL after the grace period."}
                confirm={job.state === JobState.QUEUED ? "Cancel the job" : "Stop the job"}
                danger
                onConfirm={() => act(() => client.stopJob({ id: job.id }))}
              />
            )}
            {ended(job) && (
              <ConfirmButton
                label="Delete"
                question="Delete this job's record and its output? This cannot be undone."
                confirm="Delete the job"
                danger
                onConfirm={() => act(async () => {
                  await client.deleteJob({ id: job.id });
                  navigate({ page: "jobs", states: [], owner: "" });
                })}
              />
            )}
          </div>
        )}
      </header>
      {error !== "" && <p class="error" role="alert">{error}</p>}
      <JobFacts job={job} now={now} />
      {job.timeline !== undefined && <TimelineChart timeline={job.timeline} />}
      {job.state !== JobState.QUEUED && <OutputView client={client} job={job} stream={stream} line={line} download={download} onEnded={(final) => setJob((old) => (old !== undefined && ended(old) ? old : final))} />}
    </section>
  );
}
