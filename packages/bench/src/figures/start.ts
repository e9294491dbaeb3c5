import { randomUUID } from "node:crypto";
import { copyFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { SqliteStore } from "@jobexec/core";
import { scratchCgroup } from "../cgroup.ts";
import { withServer, type Context } from "../context.ts";
import { runDirect } from "../direct.ts";
import { BenchError } from "../error.ts";
import { firstByte } from "../first-byte.ts";
import { startJob, type JobClient } from "../jobs.ts";
import type { Section } from "../result.ts";
import type { ServerProcess } from "../server-process.ts";
import { summarize } from "../stats.ts";
import { firstLine, throughCgexec, type Command } from "../workloads.ts";

/** Starts a job running `firstLine` and resolves with the milliseconds until its first byte was in its output file. */
async function startOnce(server: ServerProcess, client: JobClient): Promise<number> {
  const start = performance.now();
  const job = await startJob(client, firstLine);
  return (await firstByte(server.stdoutPath(job.id))) - start;
}

/**
 * Runs `once` `count` times in a row after `warmUp` untimed runs (so that no series pays for cold caches the others
 * do not), returning the timed samples.
 */
async function series(warmUp: number, count: number, once: () => Promise<number>): Promise<number[]> {
  for (let i = 0; i < warmUp; i++) await once();
  const samples: number[] = [];
  for (let i = 0; i < count; i++) samples.push(await once());
  return samples;
}

/**
 * Runs `clients` loops of `perClient` calls of `once` at the same time; returns the calls per second. When a call
 * fails, the other loops stop after their current call, and the first failure is thrown once all have settled.
 */
async function perSecond(clients: number, perClient: number, once: (client: number) => Promise<unknown>): Promise<number> {
  const start = performance.now();
  let failed = false;
  const loops = await Promise.allSettled(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; i < perClient && !failed; i++) {
        await once(c).catch((error: unknown) => {
          failed = true;
          throw error;
        });
      }
    }),
  );
  const failure = loops.find((loop) => loop.status === "rejected");
  if (failure !== undefined) throw failure.reason;
  return (clients * perClient) / ((performance.now() - start) / 1000);
}

/**
 * Figure 1: StartJob until the target's first byte is in the job's output file, sequentially and with concurrent
 * clients; baselines spawn the same target from Node directly and through cgexec alone, output to a file too.
 */
export async function startFigure(context: Context): Promise<Section> {
  const { sizes, dir } = context;
  const cgroup = await scratchCgroup();
  const direct = (command: Command, out: string) => async () => (await runDirect(command.program, command.args, out)).firstByteMs;
  let directMs: number[], cgexecMs: number[], directRate: number, cgexecRate: number;
  try {
    context.progress("start: baselines");
    const viaCgexec = throughCgexec(cgroup.path, firstLine);
    directMs = await series(sizes.warmUp, sizes.starts, direct(firstLine, join(dir, "start-direct.out")));
    cgexecMs = await series(sizes.warmUp, sizes.starts, direct(viaCgexec, join(dir, "start-cgexec.out")));
    directRate = await perSecond(sizes.startClients, sizes.startsPerClient, (c) => direct(firstLine, join(dir, `start-direct-${c}.out`))());
    cgexecRate = await perSecond(sizes.startClients, sizes.startsPerClient, (c) => direct(viaCgexec, join(dir, `start-cgexec-${c}.out`))());
  } finally {
    await cgroup.remove();
  }

  // The same starts against two more servers, interleaved one for one with the default server's so that the
  // machine's load falls on all alike: one that runs jobs as itself (--run-as server: no privilege drop), and one that
  // keeps its records in memory only (--state-file=:memory:: no state file), whose difference is what the file costs.
  let stateFile = "";
  const { result, profile } = await withServer(context, "start", async (server) => {
    stateFile = join(server.dataDir, "state.db");
    const { result: paired } = await withServer(
      context,
      "start-no-drop",
      async (plain) =>
        (
          await withServer(
            context,
            "start-memory",
            async (memory) => {
              context.progress(`start: ${sizes.starts} sequential starts each: default, without the privilege drop, records in memory; interleaved`);
              const [client, plainClient, memoryClient] = [server.client(), plain.client(), memory.client()];
              const latency: number[] = [];
              const noDrop: number[] = [];
              const inMemory: number[] = [];
              for (let i = 0; i < sizes.warmUp + sizes.starts; i++) {
                const timed = i >= sizes.warmUp;
                const [a, b, c] = [await startOnce(server, client), await startOnce(plain, plainClient), await startOnce(memory, memoryClient)];
                if (timed) {
                  latency.push(a);
                  noDrop.push(b);
                  inMemory.push(c);
                }
              }
              return { latency, noDrop, inMemory };
            },
            ["--state-file=:memory:"],
          )
        ).result,
      ["--run-as", "server"],
    );
    context.progress(`start: ${sizes.startClients} concurrent clients`);
    const clients = Array.from({ length: sizes.startClients }, () => server.client());
    const rate = await perSecond(sizes.startClients, sizes.startsPerClient, (c) => startOnce(server, clients[c] ?? server.client()));
    return { ...paired, rate };
  });
  context.progress(`start: ${sizes.storeWrites} times the store writes of one start, on the state file`);
  const writes = summarize(storeWrites(stateFile, sizes.storeWrites), "store writes of one start");

  const job = summarize(result.latency, "job start latency");
  const noDrop = summarize(result.noDrop, "job start latency without the privilege drop");
  const inMemory = summarize(result.inMemory, "job start latency, records in memory");
  const base = { direct: summarize(directMs, "direct spawn"), cgexec: summarize(cgexecMs, "cgexec spawn") };
  return {
    id: "start",
    title: "1. Start latency: StartJob until the target's first byte is in its output file",
    rows: [
      {
        metric: "p50",
        unit: "ms",
        value: job.p50,
        baselines: [
          { name: "direct spawn", value: base.direct.p50 },
          { name: "cgexec alone", value: base.cgexec.p50 },
          { name: "no privilege drop (--run-as server)", value: noDrop.p50 },
          { name: "records in memory (--state-file=:memory:)", value: inMemory.p50 },
        ],
        target: { op: "<=", value: 50 },
      },
      {
        metric: "p99",
        unit: "ms",
        value: job.p99,
        baselines: [
          { name: "direct spawn", value: base.direct.p99 },
          { name: "cgexec alone", value: base.cgexec.p99 },
          { name: "no privilege drop (--run-as server)", value: noDrop.p99 },
          { name: "records in memory (--state-file=:memory:)", value: inMemory.p99 },
        ],
      },
      {
        metric: "p50 added by the privilege drop (dynamic account minus --run-as server)",
        unit: "ms",
        value: job.p50 - noDrop.p50,
        baselines: [],
        target: { op: "<=", value: 2 },
      },
      {
        metric: "p50 added by the state file (default minus --state-file=:memory:)",
        unit: "ms",
        value: job.p50 - inMemory.p50,
        baselines: [],
        target: { op: "<=", value: 1 },
      },
      {
        metric: "state file writes of one start (insert + update), p50",
        unit: "ms",
        value: writes.p50,
        baselines: [],
        target: { op: "<=", value: 1 },
      },
      {
        metric: `starts/s, ${sizes.startClients} concurrent clients`,
        unit: "/s",
        value: result.rate,
        baselines: [
          { name: "direct spawn", value: directRate },
          { name: "cgexec alone", value: cgexecRate },
        ],
      },
    ],
    notes: [
      `Target: node slow.js 0 --first-line (prints "ready" first). ${sizes.starts} sequential timed starts after ${sizes.warmUp} untimed ones, for the service and each baseline.`,
      "The first byte is observed the same way everywhere: inotify on the output file (stdout redirected to a file for the baselines), then a stat showing size > 0.",
      "The service runs jobs as the caller's dynamic account (the default). The no-drop baseline is a second server with --run-as server, whose jobs run as the server's user (no uid switch, no setpriv exec); its starts alternate one for one with the service's.",
      `Concurrent: ${sizes.startClients} clients (one HTTP/2 connection each) x ${sizes.startsPerClient} starts each; baselines run ${sizes.startClients} spawn loops the same way. Jobs are not awaited to their end between starts.`,
      "The records-in-memory baseline is a third server with --state-file=:memory: (the default accounts), its starts in the same rotation; the state-file row is the difference of two p50s, so it carries their noise, which the next row does not.",
      `State file writes: the two writes StartJob makes (the row inserted before the spawn, updated after it), timed ${sizes.storeWrites} times on a copy of the run's own state.db through core's SqliteStore (WAL, synchronous=NORMAL) after the servers exited; p50/p99/max ${fmt(writes, 3)} ms.`,
      `Service p50/p99/max ${fmt(job)}; without the drop ${fmt(noDrop)}; records in memory ${fmt(inMemory)}; direct ${fmt(base.direct)}; cgexec ${fmt(base.cgexec)} (ms).`,
    ],
    ...(profile === undefined ? {} : { profile }),
  };
}

const fmt = (s: { p50: number; p99: number; max: number }, digits = 1): string =>
  `${s.p50.toFixed(digits)}/${s.p99.toFixed(digits)}/${s.max.toFixed(digits)}`;

/**
 * Times what the state file costs one StartJob: a row inserted (before the spawn) and updated (after it), through the
 * store the server uses, on a copy of a state file the server wrote (its rows are real jobs'). Milliseconds each.
 */
function storeWrites(stateFile: string, count: number): number[] {
  const copy = `${stateFile}.bench`;
  copyFileSync(stateFile, copy);
  const store = SqliteStore.open(copy);
  try {
    const template = store.load().at(-1);
    if (template === undefined) throw new BenchError("workload", `${stateFile} holds no job`);
    const { seq: _seq, ...row } = template;
    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      const id = randomUUID();
      const began = performance.now();
      const seq = store.insert({ ...row, id, state: "running", pid: 0, started_at: null });
      store.update({ ...row, seq, id });
      samples.push(performance.now() - began);
    }
    return samples;
  } finally {
    store.close();
    for (const file of [copy, `${copy}-wal`, `${copy}-shm`]) rmSync(file, { force: true });
  }
}
