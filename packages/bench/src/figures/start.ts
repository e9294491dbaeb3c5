import { randomUUID } from "node:crypto";
import { copyFileSync, rmSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "@jobexec/core";
import { scratchCgroup } from "../cgroup.ts";
import { withServer, type Context } from "../context.ts";
import { runDirect } from "../direct.ts";
import { BenchError } from "../error.ts";
import { firstByte } from "../first-byte.ts";
import { startJob, type JobClient } from "../jobs.ts";
import { readChildrenCpuSeconds, readCpuSeconds } from "../proc.ts";
import type { Row, Section } from "../result.ts";
import { backToBack, paced, perSecond } from "../series.ts";
import type { ServerProcess } from "../server-process.ts";
import { fromStandby, poolReady } from "../standbys.ts";
import { summarize, type Summary } from "../stats.ts";
import { firstLine, nativeFirstLine, throughCgexec, type Command } from "../workloads.ts";

/** Starts between paced starts: 20 starts/s, a rate at which the pool refills between starts. */
const pacedIntervalMs = 50;
/** Standbys the default server keeps (its --standby default). */
const poolSize = 2;

/** What one way of starting a target measured. */
interface Measured {
  paced: Summary;
  backToBack: Summary;
  /** Starts per second, back to back. */
  backToBackRate: number;
  concurrentRate: number;
  /** Of each series' timed starts, how many came from a standby (servers only). */
  warm?: { paced: number; backToBack: number; concurrent: number; concurrentStarts: number };
  /** CPU seconds per back-to-back start: the server's own, and its children's (cgexec or standby, and the job). */
  cpuPerStart?: { server: number; children: number };
}

type Once = (client: number) => Promise<number>;

/** Paced, back-to-back and concurrent series of `once`, each after `ready()` (the pool full, for a server). */
async function measure(context: Context, what: string, once: Once, ready: () => Promise<void> = () => Promise.resolve()): Promise<Omit<Measured, "warm" | "cpuPerStart">> {
  const { sizes } = context;
  context.progress(`start: ${what}: ${sizes.starts} paced at ${1000 / pacedIntervalMs}/s, ${sizes.starts} back to back, ${sizes.startClients} clients x ${sizes.startsPerClient}`);
  await ready();
  const pacedMs = await paced(sizes.warmUp, sizes.starts, pacedIntervalMs, () => once(0));
  await ready();
  const run = await backToBack(sizes.warmUp, sizes.starts, () => once(0));
  await ready();
  const concurrentRate = await perSecond(sizes.startClients, sizes.startsPerClient, once);
  return {
    paced: summarize(pacedMs, `${what} paced`),
    backToBack: summarize(run.samples, `${what} back to back`),
    backToBackRate: sizes.starts / (run.ms / 1000),
    concurrentRate,
  };
}

/** StartJob, then the milliseconds until the job's first byte is in its output file; the job's id goes to `ids`. */
async function startOnce(server: ServerProcess, client: JobClient, command: Command, ids: string[]): Promise<number> {
  const start = performance.now();
  const job = await startJob(client, command);
  ids.push(job.id);
  return (await firstByte(server.stdoutPath(job.id))) - start;
}

/** The three series against a server, counting from its log how many starts came from a standby. */
async function measureServer(context: Context, what: string, server: ServerProcess, command: Command, standbys: number): Promise<Measured> {
  const { sizes } = context;
  const clients = Array.from({ length: sizes.startClients }, () => server.client());
  const parent = await server.jobsCgroup();
  const ids: string[] = [];
  const cuts: number[] = [];
  let cpu = { server: 0, children: 0 };
  const once: Once = (c) => startOnce(server, clients[c] ?? server.client(), command, ids);
  const ready = async (): Promise<void> => {
    if (standbys > 0) await poolReady(parent, standbys);
    cuts.push(ids.length);
    // The back-to-back series (the second) is where CPU per start is read: from its start to the next series.
    if (cuts.length === 2) cpu = { server: await readCpuSeconds(server.pid), children: await readChildrenCpuSeconds(server.pid) };
    if (cuts.length === 3) {
      cpu = { server: (await readCpuSeconds(server.pid)) - cpu.server, children: (await readChildrenCpuSeconds(server.pid)) - cpu.children };
    }
  };
  const measured = await measure(context, what, once, ready);
  const log = await server.logLines();
  // Each series' timed starts are its last `starts` (or all concurrent ones) before the next cut.
  const [, b, c] = cuts as [number, number, number];
  const timed = (end: number, count: number): string[] => ids.slice(end - count, end);
  return {
    ...measured,
    warm: {
      paced: fromStandby(log, timed(b, sizes.starts)),
      backToBack: fromStandby(log, timed(c, sizes.starts)),
      concurrent: fromStandby(log, ids.slice(c)),
      concurrentStarts: ids.length - c,
    },
    // Jobs started back to back were reaped by the time the next series began (they end at once).
    cpuPerStart: { server: cpu.server / (c - b), children: cpu.children / (c - b) },
  };
}

/** The same series spawning the target straight from Node, and through cgexec alone (cold), output to a file. */
async function measureBaselines(context: Context, command: Command, label: string): Promise<{ direct: Measured; cgexec: Measured }> {
  const cgroup = await scratchCgroup();
  try {
    const viaCgexec = throughCgexec(cgroup.path, command);
    const spawnOnce = (how: Command, name: string): Once => async (c) => (await runDirect(how.program, how.args, join(context.dir, `start-${label}-${name}-${c}.out`))).firstByteMs;
    return {
      direct: await measure(context, `${label}: direct spawn`, spawnOnce(command, "direct")),
      cgexec: await measure(context, `${label}: cgexec alone`, spawnOnce(viaCgexec, "cgexec")),
    };
  } finally {
    await cgroup.remove();
  }
}

const fmt = (s: Summary, digits = 1): string => `${s.p50.toFixed(digits)}/${s.p99.toFixed(digits)}/${s.max.toFixed(digits)}`;

/**
 * Paced starts rotating over `servers`, one start on each per turn, each server paced at 20/s (its pool refills
 * between its starts), so that the machine's load falls on all alike; the timed samples of each server.
 */
async function pacedRotation(context: Context, servers: readonly ServerProcess[], command: Command): Promise<Summary[]> {
  const samples = servers.map((): number[] => []);
  const clients = servers.map((server) => server.client());
  let turn = 0;
  await paced(context.sizes.warmUp, context.sizes.starts, pacedIntervalMs, async () => {
    const timed = turn++ >= context.sizes.warmUp;
    for (const [i, server] of servers.entries()) {
      const ms = await startOnce(server, clients[i] ?? server.client(), command, []);
      if (timed) samples[i]?.push(ms);
    }
    return 0;
  });
  return samples.map((s, i) => summarize(s, `paced rotation, server ${String(i)}`));
}

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
    // An update writes everything but the arguments, which are written once at the insert.
    const { args: _args, ...unchanged } = row;
    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      const id = randomUUID();
      const began = performance.now();
      const seq = store.insert({ ...row, id, state: "running", pid: 0, started_at: null });
      store.update({ ...unchanged, seq, id });
      samples.push(performance.now() - began);
    }
    return samples;
  } finally {
    store.close();
    for (const file of [copy, `${copy}-wal`, `${copy}-shm`]) rmSync(file, { force: true });
  }
}

/** One section per target: the service from standbys against its cold path and the baselines. */
function targetSection(id: string, title: string, command: Command, sizes: Context["sizes"], m: { warm: Measured; cold: Measured; direct: Measured; cgexec: Measured }, extra: { rows: Row[]; notes: string[]; load: string; native: boolean }): Section {
  const { warm, cold, direct, cgexec } = m;
  const base = (pick: (x: Measured) => number) => [
    { name: "direct spawn", value: pick(direct) },
    { name: "cgexec alone (cold)", value: pick(cgexec) },
    { name: "server cold path (--standby 0)", value: pick(cold) },
  ];
  const w = warm.warm;
  const cpu = (x: Measured): string => (x.cpuPerStart === undefined ? "" : `server ${(x.cpuPerStart.server * 1000).toFixed(1)} ms + children ${(x.cpuPerStart.children * 1000).toFixed(1)} ms`);
  return {
    id,
    title,
    rows: [
      { metric: `paced ${1000 / pacedIntervalMs}/s: p50`, unit: "ms", value: warm.paced.p50, baselines: base((x) => x.paced.p50), ...(extra.native ? { target: { op: "<=", value: 5 } } : {}) },
      { metric: `paced ${1000 / pacedIntervalMs}/s: p99`, unit: "ms", value: warm.paced.p99, baselines: base((x) => x.paced.p99), ...(extra.native ? { target: { op: "<=", value: 15 } } : {}) },
      { metric: "back to back: p50", unit: "ms", value: warm.backToBack.p50, baselines: base((x) => x.backToBack.p50), target: { op: "<=", value: cold.backToBack.p50 } },
      { metric: "back to back: p99", unit: "ms", value: warm.backToBack.p99, baselines: base((x) => x.backToBack.p99) },
      { metric: "back to back: starts/s", unit: "/s", value: warm.backToBackRate, baselines: base((x) => x.backToBackRate), target: { op: ">=", value: cold.backToBackRate } },
      {
        metric: `starts/s, ${sizes.startClients} concurrent clients`,
        unit: "/s",
        value: warm.concurrentRate,
        baselines: base((x) => x.concurrentRate),
        target: { op: ">=", value: cold.concurrentRate },
      },
      ...extra.rows,
    ],
    notes: [
      `Target: ${[command.program, ...command.args].join(" ").replace(/\S*\/(slow\.js)/, "$1").replace(/^\S*\/node /, "node ")}. The service is a jobexec-server with its default ${poolSize} standbys; jobs run as the caller's dynamic account.`,
      `Paced: ${sizes.starts} starts, one every ${pacedIntervalMs} ms (a start that takes longer delays the next); back to back: ${sizes.starts} starts without a pause; concurrent: ${sizes.startClients} clients (one HTTP/2 connection each) x ${sizes.startsPerClient} starts. ${sizes.warmUp} untimed starts before each series; every series of a server begins with its pool full.`,
      w === undefined
        ? ""
        : `From a standby (the server's log): paced ${w.paced}/${sizes.starts}, back to back ${w.backToBack}/${sizes.starts}, concurrent ${w.concurrent}/${w.concurrentStarts}; the rest started cold.`,
      "The first byte is observed the same way everywhere: inotify on the output file (stdout redirected to a file for the baselines), then a stat showing size > 0.",
      `CPU per back-to-back start (the server's, and its reaped children's: standby or cgexec, and the target): from standbys ${cpu(warm)}; cold ${cpu(cold)}.`,
      `p50/p99/max (ms): paced service ${fmt(warm.paced)}, cold ${fmt(cold.paced)}, direct ${fmt(direct.paced)}, cgexec ${fmt(cgexec.paced)}; back to back service ${fmt(warm.backToBack)}, cold ${fmt(cold.backToBack)}, direct ${fmt(direct.backToBack)}, cgexec ${fmt(cgexec.backToBack)}.`,
      `Load average around this target: ${extra.load}.`,
      ...extra.notes,
    ].filter((note) => note !== ""),
  };
}

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" / ");

/**
 * Figure 1: StartJob until the target's first byte is in the job's output file, for a native and a Node target: the
 * service (from standbys) paced, back to back and with concurrent clients, against the same series spawning the
 * target directly from Node, through cgexec alone, and through the server's cold path (--standby 0), all in this
 * run. For the native target also the p50 the privilege drop adds (a --run-as server server, standbys too), the p50 the
 * state file adds (a --state-file=:memory: server) and the state file's writes of one start on their own.
 */
export async function startFigures(context: Context): Promise<Section[]> {
  let sections: Section[] = [];
  let stateFile = "";
  // The isolated servers' data directories (and so their jobs' homes) outside /tmp, which a private /tmp hides.
  const outsideTmp = await mkdtemp("/var/lib/jobexec-bench-");
  await chmod(outsideTmp, 0o711);
  const isolated = ["--default-isolation", allIsolation];
  let profile: string[] | undefined;
  try {
    ({ profile } = await withServer(context, "start", (warm) =>
      withServer(
        context,
        "start-cold",
        (cold) =>
          withServer(
            context,
            "start-no-drop",
            (plain) =>
              withServer(
                context,
                "start-memory",
                (memory) =>
                  withServer(
                    context,
                    "start-isolated",
                    (isolatedWarm) =>
                      withServer(
                        context,
                        "start-isolated-cold",
                        async (isolatedCold) => {
                          stateFile = join(warm.dataDir, "state.db");
                          sections = await measureTargets(context, { warm, cold, plain, memory, isolatedWarm, isolatedCold });
                        },
                        ["--standby", "0", ...isolated],
                        outsideTmp,
                      ),
                    isolated,
                    outsideTmp,
                  ),
                ["--state-file=:memory:"],
              ),
            ["--run-as", "server"],
          ),
        ["--standby", "0"],
      ),
    ));
  } finally {
    await rm(outsideTmp, { recursive: true, force: true });
  }
  // Once the servers exited: the store writes of one start, timed on a copy of the default server's own state file.
  context.progress(`start: ${context.sizes.storeWrites} times the store writes of one start, on the state file`);
  const writes = summarize(storeWrites(stateFile, context.sizes.storeWrites), "store writes of one start");
  const native = sections.find((section) => section.id === "start-native");
  native?.rows.push({ metric: "state file writes of one start (insert + update), p50", unit: "ms", value: writes.p50, baselines: [], target: { op: "<=", value: 1 } });
  native?.notes.push(
    `State file writes: the two writes StartJob makes (the row inserted before the spawn, updated after it), timed ${context.sizes.storeWrites} times on a copy of the default server's state.db through core's SqliteStore (WAL, synchronous=NORMAL) after the servers exited; p50/p99/max ${fmt(writes, 3)} ms.`,
  );
  const last = sections.at(-1);
  if (profile !== undefined && last !== undefined) last.profile = profile;
  return sections;
}

/** All three kinds of isolation, as --default-isolation takes them (a private /tmp of the default 64 MiB). */
const allIsolation = "network=none,private-tmp,read-only";

/**
 * The sections of both targets against the six servers: `warm` (the defaults: standbys), `cold` (--standby 0),
 * `plain` (--run-as server) and `memory` (--state-file=:memory:), the last two with standbys too; `isolatedWarm` and
 * `isolatedCold`, with and without standbys, every job with all three kinds of isolation (--default-isolation).
 */
async function measureTargets(context: Context, servers: Record<"warm" | "cold" | "plain" | "memory" | "isolatedWarm" | "isolatedCold", ServerProcess>): Promise<Section[]> {
  const sections: Section[] = [];
  for (const [label, command] of [
    ["native", nativeFirstLine],
    ["node", firstLine],
  ] as const) {
    const before = load();
    const baselines = await measureBaselines(context, command, label);
    const cold = await measureServer(context, `${label}: server --standby 0`, servers.cold, command, 0);
    const warm = await measureServer(context, `${label}: server (standbys)`, servers.warm, command, poolSize);
    const rows: Row[] = [];
    const notes: string[] = [];
    if (label === "native") {
      const rotation = [servers.warm, servers.plain, servers.memory];
      context.progress(`start: native: ${context.sizes.starts} paced starts each: default, without the privilege drop, records in memory; in rotation`);
      for (const server of rotation) await poolReady(await server.jobsCgroup(), poolSize);
      const [service, noDrop, inMemory] = (await pacedRotation(context, rotation, command)) as [Summary, Summary, Summary];
      rows.push(
        { metric: "paced p50 added by the privilege drop (dynamic account minus --run-as server)", unit: "ms", value: service.p50 - noDrop.p50, baselines: [], target: { op: "<=", value: 2 } },
        { metric: "paced p50 added by the state file (default minus --state-file=:memory:)", unit: "ms", value: service.p50 - inMemory.p50, baselines: [], target: { op: "<=", value: 1 } },
      );
      // Isolation: all three against none, from standbys and cold, each pair's paced starts in one rotation.
      context.progress(`start: native: ${context.sizes.starts} paced starts each with all three kinds of isolation and without, from standbys, then cold; in rotation`);
      for (const server of [servers.warm, servers.isolatedWarm]) await poolReady(await server.jobsCgroup(), poolSize);
      const [plainWarm, isolatedWarm] = (await pacedRotation(context, [servers.warm, servers.isolatedWarm], command)) as [Summary, Summary];
      const [plainCold, isolatedCold] = (await pacedRotation(context, [servers.cold, servers.isolatedCold], command)) as [Summary, Summary];
      rows.push(
        { metric: "paced p50 added by isolation (network none, private /tmp, read-only system; from standbys)", unit: "ms", value: isolatedWarm.p50 - plainWarm.p50, baselines: [], target: { op: "<=", value: 3 } },
        // No target: cold starts (cgexec-enter spawned by the server) carry a cgroup migration each, noisy under load.
        { metric: "paced p50 added by isolation, cold starts (--standby 0)", unit: "ms", value: isolatedCold.p50 - plainCold.p50, baselines: [] },
      );
      notes.push(
        `Isolation: a --default-isolation ${allIsolation} server (a network namespace with lo up, a 64 MiB tmpfs on /tmp and on /var/tmp, every mount but /proc, /sys, /dev read-only with the home writable: cgexec-enter's steps) against the default one, standbys on both, their paced starts in one rotation, then the same two with --standby 0; p50/p99/max from standbys none ${fmt(plainWarm)}, all three ${fmt(isolatedWarm)}; cold none ${fmt(plainCold)}, all three ${fmt(isolatedCold)} ms.`,
      );
      notes.push(
        `Drop and state file: the default server, a --run-as server one (jobs run as the server's user: no uid switch) and a --state-file=:memory: one (no state file), all with standbys, their paced starts in one rotation; p50/p99/max default ${fmt(service)}, without the drop ${fmt(noDrop)}, records in memory ${fmt(inMemory)} ms. Each row is the difference of two p50s, so it carries their noise (the state file's writes alone are timed below).`,
      );
    }
    const title = label === "native" ? "1a. Start latency, native target (/bin/echo ready): StartJob until its first byte is in its output file" : "1b. Start latency, Node target (slow --first-line)";
    sections.push(targetSection(`start-${label}`, title, command, context.sizes, { warm, cold, ...baselines }, { rows, notes, load: `${before} before, ${load()} after`, native: label === "native" }));
  }
  return sections;
}
