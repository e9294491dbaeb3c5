import type { Job } from "@jobexec/proto";
import { JobState } from "@jobexec/proto";
import { useEffect, useMemo, useState } from "preact/hooks";
import { commandLine, cpuTime, formatDuration, formatTime, memory, millis, outcome, runtime, stateLabel, stateName } from "../app/format.ts";
import { Link } from "../app/link.tsx";
import { visible } from "../app/visible.ts";
import { navigate } from "../app/router.ts";
import { stateNames, type StateName } from "../app/url-state.ts";
import { fixedLayout, VirtualList } from "../app/virtual-list.tsx";
import type { JobsStore } from "./jobs-store.ts";

const rowHeight = 34;

/** A clock for run times of running jobs: ticks every second while the page shows some. */
function useNow(active: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}

function JobRow({ job, now }: { job: Job; now: number }) {
  const ran = runtime(job, now);
  const state = stateLabel(job);
  const detail = visible(job.state === JobState.QUEUED ? `#${job.queuePosition} ${job.queueReason}` : outcome(job));
  return (
    <Link class="job-row" to={{ page: "job", id: job.id, stream: "both" }}>
      <span class={`state state-${state}`}>{state}</span>
      <span class="result" title={detail}>{detail}</span>
      <span class="owner">{visible(job.owner)}</span>
      <span class="command" title={commandLine(job)}>{commandLine(job)}</span>
      <span class="started">{formatTime(millis(job.startTime) ?? millis(job.createTime))}</span>
      <span class="num">{ran === undefined ? "" : formatDuration(ran)}</span>
      <span class="num">{cpuTime(job)}</span>
      <span class="num">{memory(job)}</span>
    </Link>
  );
}

/** The live list of jobs, filtered by state and owner (kept in the address). */
export function JobsPage({ store, states, owner }: { store: JobsStore; states: StateName[]; owner: string }) {
  const all = store.jobs.value;
  const filter = states.join(",");
  const jobs = useMemo(() => {
    const wanted = new Set(states);
    return all.filter((job) => (wanted.size === 0 || wanted.has(stateName(job) as StateName)) && (owner === "" || job.owner === owner));
  }, [all, filter, owner]);
  const counts = useMemo(() => {
    const byState = new Map<string, number>();
    for (const job of all) byState.set(stateName(job) ?? "", (byState.get(stateName(job) ?? "") ?? 0) + 1);
    return byState;
  }, [all]);
  const now = useNow(jobs.some((job) => job.state === JobState.RUNNING));
  const toggle = (state: StateName): void => {
    const next = states.includes(state) ? states.filter((s) => s !== state) : [...states, state];
    navigate({ page: "jobs", states: stateNames.filter((s) => next.includes(s)), owner }, { replace: true });
  };
  return (
    <section class="jobs-page">
      <div class="toolbar" role="toolbar" aria-label="Filters">
        {stateNames.map((state) => (
          <button type="button" class={`chip state-${state}`} aria-pressed={states.includes(state)} onClick={() => toggle(state)}>
            {state} <span class="count">{counts.get(state) ?? 0}</span>
          </button>
        ))}
        {store.allOwners.value && (
          <label class="owner-filter">
            Owner{" "}
            <input
              type="search"
              value={owner}
              placeholder="everyone"
              onChange={(event) => navigate({ page: "jobs", states, owner: event.currentTarget.value.trim() }, { replace: true })}
            />
          </label>
        )}
        <span class="live" data-status={store.status.value}>
          {store.status.value === "live" ? `${jobs.length} of ${all.length} jobs · live` : store.status.value === "connecting" ? "connecting…" : `reconnecting: ${store.error.value}`}
        </span>
      </div>
      <div class="job-head" aria-hidden="true">
        <span>State</span>
        <span>Result</span>
        <span>Owner</span>
        <span>Command</span>
        <span>Started</span>
        <span class="num">Run time</span>
        <span class="num">CPU</span>
        <span class="num">Memory</span>
      </div>
      {jobs.length === 0 && store.status.value === "live" ? (
        <p class="empty">No jobs{states.length > 0 || owner !== "" ? " match these filters" : " yet"}.</p>
      ) : (
        <VirtualList
          class="job-list"
          label="Jobs"
          layout={fixedLayout(jobs.length, rowHeight)}
          rowKey={(index) => (jobs[index] as Job).id}
          row={(index) => <JobRow job={jobs[index] as Job} now={now} />}
        />
      )}
    </section>
  );
}
