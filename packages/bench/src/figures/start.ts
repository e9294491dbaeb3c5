import { join } from "node:path";
import { scratchCgroup } from "../cgroup.ts";
import { withServer, type Context } from "../context.ts";
import { runDirect } from "../direct.ts";
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

  // The same starts against a server that runs jobs as itself (--run-as server: no privilege drop), interleaved
  // one for one with the default server's, so that the machine's load falls on both alike.
  const { result, profile } = await withServer(context, "start", async (server) => {
    const { result: paired } = await withServer(
      context,
      "start-no-drop",
      async (plain) => {
        context.progress(`start: ${sizes.starts} sequential starts, with and without the privilege drop, interleaved`);
        const [client, plainClient] = [server.client(), plain.client()];
        for (let i = 0; i < sizes.warmUp; i++) {
          await startOnce(server, client);
          await startOnce(plain, plainClient);
        }
        const latency: number[] = [];
        const noDrop: number[] = [];
        for (let i = 0; i < sizes.starts; i++) {
          latency.push(await startOnce(server, client));
          noDrop.push(await startOnce(plain, plainClient));
        }
        return { latency, noDrop };
      },
      ["--run-as", "server"],
    );
    context.progress(`start: ${sizes.startClients} concurrent clients`);
    const clients = Array.from({ length: sizes.startClients }, () => server.client());
    const rate = await perSecond(sizes.startClients, sizes.startsPerClient, (c) => startOnce(server, clients[c] ?? server.client()));
    return { ...paired, rate };
  });

  const job = summarize(result.latency, "job start latency");
  const noDrop = summarize(result.noDrop, "job start latency without the privilege drop");
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
      `Service p50/p99/max ${fmt(job)}; without the drop ${fmt(noDrop)}; direct ${fmt(base.direct)}; cgexec ${fmt(base.cgexec)} (ms).`,
    ],
    ...(profile === undefined ? {} : { profile }),
  };
}

const fmt = (s: { p50: number; p99: number; max: number }): string => `${s.p50.toFixed(1)}/${s.p99.toFixed(1)}/${s.max.toFixed(1)}`;
