import { useEffect, useMemo, useState } from "preact/hooks";
import { JobsPage } from "../jobs/jobs-page.tsx";
import { JobsStore } from "../jobs/jobs-store.ts";
import { JobPage } from "../job/job-page.tsx";
import { StartPage } from "../start/start-page.tsx";
import { jobClient, sessionLost } from "./client.ts";
import { Link } from "./link.tsx";
import { route } from "./router.ts";
import { dropSession, openSession, type Session } from "./session.ts";

/** Asks the console for a one-use download address of a job's stream. */
async function downloadPath(session: Session, id: string, stream: "stdout" | "stderr"): Promise<string> {
  const response = await fetch("/download", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${session.token}` },
    body: JSON.stringify({ id, stream }),
    credentials: "omit",
  });
  if (!response.ok) throw new Error(`download refused (${response.status})`);
  return ((await response.json()) as { path: string }).path;
}

function Console({ session }: { session: Session }) {
  const client = useMemo(() => jobClient(session), [session]);
  const store = useMemo(() => new JobsStore(client), [client]);
  useEffect(() => {
    const abort = new AbortController();
    void store.run(abort.signal);
    return () => abort.abort();
  }, [store]);
  useEffect(() => {
    if (sessionLost.value) dropSession();
  }, [sessionLost.value]);
  const here = route.value;
  let page;
  switch (here.page) {
    case "jobs":
      page = <JobsPage store={store} states={here.states} owner={here.owner} />;
      break;
    case "job":
      page = <JobPage key={here.id} client={client} id={here.id} stream={here.stream} line={here.line} readOnly={session.readOnly} download={(id, stream) => downloadPath(session, id, stream)} />;
      break;
    case "start":
      page = session.readOnly ? <p class="notice">This console is read-only (jobexec ui --read-only).</p> : <StartPage client={client} />;
      break;
    default:
      page = <p class="notice">Nothing here. <Link to={{ page: "jobs", states: [], owner: "" }}>See the jobs</Link>.</p>;
  }
  return (
    <>
      <header class="top">
        <Link to={{ page: "jobs", states: [], owner: "" }} class="brand">
          jobexec
        </Link>
        <nav>
          <Link to={{ page: "jobs", states: [], owner: "" }}>Jobs</Link>
          {!session.readOnly && <Link to={{ page: "start" }}>Start a job</Link>}
        </nav>
        {session.readOnly && <span class="badge">read-only</span>}
      </header>
      {sessionLost.value && (
        <p class="error" role="alert">
          This page's session has ended (the `jobexec ui` that served it stopped). Run `jobexec ui` again.
        </p>
      )}
      <main>{page}</main>
    </>
  );
}

/** The app: opens the session, then the console. */
export function App() {
  const [session, setSession] = useState<Session | { error: string } | undefined>(undefined);
  useEffect(() => {
    openSession().then(setSession, (error: unknown) => setSession({ error: String(error) }));
  }, []);
  if (session === undefined) return <p class="notice">Connecting…</p>;
  if ("error" in session) return <p class="error" role="alert">{session.error}</p>;
  return <Console session={session} />;
}
