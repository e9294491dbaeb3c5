import { useState } from "preact/hooks";
import { errorText, type JobClient } from "../app/client.ts";
import { navigate } from "../app/router.ts";
import { emptyFields, parseStartFields, type StartFields } from "./start-request.ts";

type TextField = Exclude<keyof StartFields, "mergeOutput" | "refuseIfFull">;

/** The start-a-job form. The server's refusal is shown as it phrased it. */
export function StartPage({ client }: { client: JobClient }) {
  const [fields, setFields] = useState<StartFields>(emptyFields);
  const [problem, setProblem] = useState<{ field?: keyof StartFields; error: string } | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const text = (name: TextField, label: string, hint = "", multiline = false) => (
    <label class={problem?.field === name ? "field invalid" : "field"}>
      <span>{label}</span>
      {multiline ? (
        <textarea name={name} rows={3} value={fields[name]} aria-invalid={problem?.field === name} onInput={(event) => setFields({ ...fields, [name]: event.currentTarget.value })} />
      ) : (
        <input name={name} value={fields[name]} aria-invalid={problem?.field === name} onInput={(event) => setFields({ ...fields, [name]: event.currentTarget.value })} />
      )}
      {hint !== "" && <small>{hint}</small>}
    </label>
  );
  const tri = (name: "privateNetwork" | "privateTmp" | "readOnlySystem", label: string) => (
    <label class="field">
      <span>{label}</span>
      <select name={name} value={fields[name]} onChange={(event) => setFields({ ...fields, [name]: event.currentTarget.value })}>
        <option value="default">server's default</option>
        <option value="on">on</option>
        <option value="off">off</option>
      </select>
    </label>
  );
  return (
    <section class="start-page">
      <h1>Start a job</h1>
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          const parsed = parseStartFields(fields);
          if ("error" in parsed) return setProblem(parsed);
          setBusy(true);
          try {
            const { job } = await client.startJob(parsed.request);
            if (job !== undefined) navigate({ page: "job", id: job.id, stream: "both" });
          } catch (error) {
            setProblem({ error: errorText(error) });
          } finally {
            setBusy(false);
          }
        }}
      >
        <fieldset>
          <legend>Command</legend>
          {text("program", "Program", "A name on the server's PATH, or a path")}
          {text("args", "Arguments", "One a line, passed as they are (no shell)", true)}
          {text("env", "Environment", "NAME=VALUE, one a line", true)}
          {text("directory", "Directory", "Absolute; empty: the job's home")}
        </fieldset>
        <fieldset>
          <legend>Limits</legend>
          {text("cpu", "CPUs", "e.g. 0.5 or 2")}
          {text("memory", "Memory", "e.g. 512M, 2G")}
          {text("pids", "Tasks", "Most processes and threads")}
          {text("timeout", "Timeout", "e.g. 90s, 1h30m")}
          {text("maxOutput", "Output cap", "e.g. 100M; empty: the server's default")}
          <label class="check">
            <input type="checkbox" checked={fields.mergeOutput} onChange={(event) => setFields({ ...fields, mergeOutput: event.currentTarget.checked })} /> Merge stderr into stdout
          </label>
        </fieldset>
        <fieldset>
          <legend>Isolation</legend>
          {tri("privateNetwork", "Private network")}
          {tri("privateTmp", "Private /tmp")}
          {tri("readOnlySystem", "Read-only system")}
        </fieldset>
        <fieldset>
          <legend>Queue</legend>
          {text("priority", "Priority", "-1000 to 1000, among your queued jobs")}
          {text("after", "After", "Job ids to wait for, each optionally :ok, :any or :failed")}
          <label class="field">
            <span>Not before</span>
            <input type="datetime-local" name="notBefore" value={fields.notBefore} onInput={(event) => setFields({ ...fields, notBefore: event.currentTarget.value })} />
          </label>
          <label class="check">
            <input type="checkbox" checked={fields.refuseIfFull} onChange={(event) => setFields({ ...fields, refuseIfFull: event.currentTarget.checked })} /> Refuse instead of queueing when full
          </label>
        </fieldset>
        {problem !== undefined && (
          <p class="error" role="alert">
            {problem.error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Starting…" : "Start"}
        </button>
      </form>
    </section>
  );
}
