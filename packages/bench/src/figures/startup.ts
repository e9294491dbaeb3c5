import { randomUUID } from "node:crypto";
import { copyFile, cp, mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { SqliteStore, type JobRow } from "@jobexec/core";
import { withServer, type Context } from "../context.ts";
import { BenchError } from "../error.ts";
import { startJob, waitEnded } from "../jobs.ts";
import type { Section } from "../result.ts";
import { startServerProcess } from "../server-process.ts";
import { summarize } from "../stats.ts";
import { writeBytes } from "../workloads.ts";

// Start-ups timed for each data directory, alternating.
const runs = 5;

/**
 * Copies the data directory `templateDir` (a server's, with a few finished jobs) to `<target>/data` and adds copies of
 * its records, each with a copy of its output directory, until it holds `count`; `edit` may change each added row.
 */
export async function fillStateFile(templateDir: string, target: string, count: number, edit: (row: Omit<JobRow, "seq">) => Omit<JobRow, "seq"> = (row) => row): Promise<void> {
  await cp(templateDir, join(target, "data"), { recursive: true });
  const store = SqliteStore.open(join(target, "data", "state.db"));
  try {
    const templates = store.load();
    if (templates.length === 0) throw new BenchError("workload", "the template server recorded no job");
    for (let n = templates.length; n < count; n++) {
      const { seq: _seq, ...template } = templates[n % templates.length] ?? (templates[0] as (typeof templates)[number]);
      const id = randomUUID();
      store.insert(edit({ ...template, id }));
      const from = join(target, "data", "jobs", template.id);
      const to = join(target, "data", "jobs", id);
      await mkdir(to);
      for (const name of await readdir(from)) await copyFile(join(from, name), join(to, name));
    }
  } finally {
    store.close();
  }
}

/**
 * Figure 6: how long jobexec-server takes to start (spawn to listening) with N finished jobs in its state file,
 * against the same server starting on an empty data directory in the same run; and how long loading the records took
 * by the server's own account. The N records are copies of real ones (jobs run by a server of this run, each with
 * 1 KiB of output), each with its output directory.
 */
export async function startupFigure(context: Context): Promise<Section> {
  const { sizes, dir } = context;
  context.progress("startup: a server runs the template jobs");
  const { result: templateDir } = await withServer(context, "startup-template", async (server) => {
    const client = server.client();
    for (let i = 0; i < 4; i++) await waitEnded(client, (await startJob(client, writeBytes(1024))).id);
    return server.dataDir;
  });

  context.progress(`startup: ${sizes.records} finished records in a state file`);
  const full = join(dir, "startup-full");
  await fillStateFile(templateDir, full, sizes.records);

  context.progress(`startup: ${runs} start-ups with ${sizes.records} records and with none, alternating`);
  const withRecords: number[] = [];
  const loading: number[] = [];
  const empty: number[] = [];
  for (let i = 0; i < runs; i++) {
    for (const [name, samples] of [["startup-full", withRecords], [`startup-empty-${i}`, empty]] as const) {
      await mkdir(join(dir, name), { recursive: true });
      const server = await startServerProcess({ dir: join(dir, name), tls: context.tls });
      try {
        samples.push(server.startupMs);
        const loaded = (await server.logLines()).find((l) => typeof l.msg === "string" && l.msg.startsWith("loaded "));
        const match = /^loaded (\d+) job record\(s\).*took ([\d.]+) ms$/.exec(String(loaded?.msg));
        if (name === "startup-full") {
          if (match?.[1] !== String(sizes.records)) throw new BenchError("workload", `the server loaded ${String(match?.[1])} records, not ${sizes.records}`);
          loading.push(Number(match[2]));
        }
      } finally {
        await server.close();
      }
    }
  }
  const started = summarize(withRecords, "start-up with records");
  const bare = summarize(empty, "start-up, empty");
  const load = summarize(loading, "records loaded");
  return {
    id: "startup",
    title: `6. Start-up with ${sizes.records} finished jobs in the state file`,
    rows: [
      {
        metric: `spawn to listening, ${sizes.records} records, p50`,
        unit: "ms",
        value: started.p50,
        baselines: [{ name: "empty data directory", value: bare.p50 }],
        target: { op: "<=", value: 1000 },
      },
      {
        metric: `loading ${sizes.records} records (the server's own figure), p50`,
        unit: "ms",
        value: load.p50,
        baselines: [],
      },
    ],
    notes: [
      `${runs} start-ups of each, alternating; spawn to the "listening" log line (its timestamp against the spawn time). p50/max with records ${started.p50.toFixed(0)}/${started.max.toFixed(0)} ms, empty ${bare.p50.toFixed(0)}/${bare.max.toFixed(0)} ms.`,
      `Loading: the server's "loaded N job record(s) ... took X ms" line: reading every row, integrity check excluded (it runs when the file is opened), rebuilding the in-memory table, checking the output directories and applying retention; p50/max ${load.p50.toFixed(1)}/${load.max.toFixed(1)} ms.`,
      "The records are copies of four real finished jobs (1 KiB of stdout each) run by a server of this run, each with its output directory.",
    ],
  };
}
