import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import type { Duplex, Readable, Writable } from "node:stream";
import { promisify } from "node:util";
import { encodeSpec, standbyPath, stdinSocket } from "@jobexec/cgexec";
import { withServer, type Context } from "../context.ts";
import { BenchError } from "../error.ts";
import { readCpuSeconds, readMemory, readRssPss } from "../proc.ts";
import type { Section } from "../result.ts";
import type { ServerProcess } from "../server-process.ts";
import { poolReady } from "../standbys.ts";
import { summarize } from "../stats.ts";

const poolSize = 2;
const MiB = 2 ** 20;

async function cpuOf(pids: readonly number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) total += await readCpuSeconds(pid);
  return total;
}

/**
 * Kills the pool's standbys `rounds` times and times the refill: the server's CPU over each refill (minus its idle
 * rate), each new standby's own CPU until it waits (its Node start-up), and the wall time until the pool is full.
 */
async function refills(server: ServerProcess, parent: string, rounds: number, idleCpuPerMs: number): Promise<{ serverMs: number; bootCpuMs: number[]; fullMs: number[] }> {
  let serverCpu = 0;
  let wall = 0;
  const bootCpuMs: number[] = [];
  const fullMs: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const old = await poolReady(parent, poolSize);
    const cpu = await readCpuSeconds(server.pid);
    const start = performance.now();
    for (const pid of old) process.kill(pid, "SIGKILL");
    const fresh = await poolReady(parent, poolSize, old);
    const ms = performance.now() - start;
    serverCpu += (await readCpuSeconds(server.pid)) - cpu;
    wall += ms;
    fullMs.push(ms);
    for (const pid of fresh) bootCpuMs.push((await readCpuSeconds(pid)) * 1000);
  }
  return { serverMs: (serverCpu * 1000 - idleCpuPerMs * wall) / (rounds * poolSize), bootCpuMs, fullMs };
}

/**
 * How long the spawn() call of a standby blocks its caller's event loop (libuv forks and waits for the exec), measured
 * in this process for the very command the server runs; each standby is told to go away at once.
 */
async function spawnBlocking(count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const child = spawn(process.execPath, ["--v8-pool-size=1", "--disable-sigusr1", standbyPath, "--request-fd=4"], {
      stdio: ["pipe", "ignore", "ignore", "ignore", "pipe"],
      detached: true,
      env: {},
    });
    samples.push(performance.now() - start);
    // End-of-file before its cgroup: it exits without running anything.
    (child.stdio[4] as Writable).end();
    await once(child, "exit");
  }
  return samples;
}

/** Wall-clock time now in nanoseconds, comparable with `date +%s%N` in another process. */
const nowNs = (): bigint => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));

/** A program that prints the wall-clock time in nanoseconds as its first output. */
const dateNs = ["/bin/date", "+%s%N"] as const;

/**
 * The take path of a standby on its own, the floor of a start from one: a booted cgexec-standby (no cgroup, no
 * account) is sent the spec of `date +%s%N` and the go; the time from just before the write to the time date prints.
 * Includes Node's process.execve of a booted Node process into cgexec-enter, its steps, and date's start-up.
 */
async function takeToFirstOutput(count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const child = spawn(process.execPath, ["--v8-pool-size=1", "--disable-sigusr1", standbyPath, "--request-fd=4"], {
      stdio: ["pipe", "pipe", "inherit", "ignore", "pipe"],
      env: {},
    });
    const request = child.stdio[4] as Duplex;
    request.write("\n"); // no cgroup
    await once(request, "data"); // ready
    let out = "";
    (child.stdout as Readable).on("data", (chunk: Buffer) => (out += chunk.toString()));
    const spec = encodeSpec({ cwd: "/", argv: [...dateNs], env: {} });
    const start = nowNs();
    stdinSocket(child)?.end(spec);
    request.end("\n");
    const [code] = (await once(child, "exit")) as [number | null];
    if (code !== 0) throw new BenchError("workload", `cgexec-standby running date exited with ${String(code)}`);
    samples.push(Number(BigInt(out.trim()) - start) / 1e6);
  }
  return samples;
}

/** The same measure for a shell's exec: `date; exec date`, the second time minus the first. */
async function shellExec(count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const { stdout } = await promisify(execFile)("/bin/sh", ["-c", `${dateNs.join(" ")}; exec ${dateNs.join(" ")}`]);
    const [first, second] = stdout.trim().split("\n").map(BigInt);
    if (first === undefined || second === undefined) throw new BenchError("workload", `sh printed ${JSON.stringify(stdout)}`);
    samples.push(Number(second - first) / 1e6);
  }
  return samples;
}

/**
 * Figure 1c: what the standbys cost: their memory (RSS and PSS), CPU while the pool is full and idle, the server's
 * CPU to spawn one, the event-loop time a spawn() call blocks, and each standby's own start-up CPU.
 */
export async function standbyFigure(context: Context): Promise<Section> {
  const { sizes } = context;
  const rounds = sizes.refillRounds;
  const { result: inner, profile } = await withServer(context, "standby", (server) =>
    withServer(
      context,
      "standby-off",
      async (off) => {
        const parent = await server.jobsCgroup();
        const pids = await poolReady(parent, poolSize);
        context.progress(`standby: memory of ${pids.length} standbys, then ${sizes.idleSeconds} s idle`);
        const memory = await Promise.all(pids.map((pid) => readRssPss(pid)));
        const [serverRss, offRss] = [(await readMemory(server.pid)).rssBytes, (await readMemory(off.pid)).rssBytes];
        const before = { standbys: await cpuOf(pids), server: await readCpuSeconds(server.pid), off: await readCpuSeconds(off.pid) };
        const idleStart = performance.now();
        await new Promise((resolve) => setTimeout(resolve, sizes.idleSeconds * 1000));
        const idleMs = performance.now() - idleStart;
        const percent = (seconds: number): number => (100 * seconds * 1000) / idleMs;
        const idle = {
          standbys: percent((await cpuOf(pids)) - before.standbys),
          server: percent((await readCpuSeconds(server.pid)) - before.server),
          off: percent((await readCpuSeconds(off.pid)) - before.off),
        };
        context.progress(`standby: ${rounds} rounds of killing the pool and timing its refill`);
        const refill = await refills(server, parent, rounds, idle.server / 100);
        context.progress(`standby: ${rounds * poolSize} spawn() calls of a standby from this process`);
        const blocking = summarize(await spawnBlocking(rounds * poolSize), "spawn() blocking");
        const benchRss = (await readMemory(process.pid)).rssBytes;
        context.progress(`standby: ${sizes.starts} takes of a standby for date, and as many shell execs`);
        const take = summarize(await takeToFirstOutput(sizes.starts), "standby take to first output");
        const shell = summarize(await shellExec(sizes.starts), "shell exec to first output");
        return { memory, serverRss, offRss, idle, refill, blocking, benchRss, take, shell };
      },
      ["--standby", "0"],
    ),
  );
  const { memory, serverRss, offRss, idle, refill, blocking, benchRss, take, shell } = inner.result;
  const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
  const boot = summarize(refill.bootCpuMs, "standby boot CPU");
  const full = summarize(refill.fullMs, "pool refill time");
  return {
    id: "standby",
    title: "1c. Standbys: what keeping two ready costs",
    rows: [
      { metric: "standby RSS (mean)", unit: "MiB", value: mean(memory.map((m) => m.rssBytes)) / MiB, baselines: [] },
      { metric: "standby PSS (mean; shared pages split among the processes mapping them)", unit: "MiB", value: mean(memory.map((m) => m.pssBytes)) / MiB, baselines: [] },
      { metric: `standbys' CPU while idle (pool full, ${sizes.idleSeconds} s)`, unit: "% of a core", value: idle.standbys, baselines: [], target: { op: "<=", value: 0 } },
      { metric: "server CPU while idle, pool full", unit: "% of a core", value: idle.server, baselines: [{ name: "server with --standby 0, idle", value: idle.off }] },
      { metric: "server CPU per standby spawned (refill after a death: clean up, make files and cgroup, spawn)", unit: "ms", value: refill.serverMs, baselines: [] },
      { metric: "spawn() of a standby: event-loop time it blocks (p50)", unit: "ms", value: blocking.p50, baselines: [] },
      { metric: "a standby's own CPU until it waits (Node start-up, mean)", unit: "ms", value: boot.mean, baselines: [] },
      { metric: `time to refill a pool of ${poolSize} (p50)`, unit: "ms", value: full.p50, baselines: [] },
      {
        metric: "a standby's take on its own: request written to its program's first output (p50)",
        unit: "ms",
        value: take.p50,
        baselines: [{ name: "a shell's exec of the same program", value: shell.p50 }],
      },
    ],
    notes: [
      `Memory from /proc/PID/smaps_rollup of the ${memory.length} standbys of a server with the default pool, after they booted; the server's own RSS ${(serverRss / MiB).toFixed(0)} MiB (with --standby 0: ${(offRss / MiB).toFixed(0)} MiB).`,
      `Idle: CPU time (utime + stime, 10 ms ticks) over ${(sizes.idleSeconds).toFixed(0)} s with no client, of the standbys together, of that server and of a server with --standby 0.`,
      `Refill: ${rounds} rounds of SIGKILL to both standbys, until both replacements wait blocked on their request (read(2) on fd 4, /proc/PID/syscall); the server's CPU over each round minus its idle rate, per standby. Boot CPU: each new standby's utime + stime at that point. Pool refill p50/max ${full.p50.toFixed(0)}/${full.max.toFixed(0)} ms.`,
      `spawn() blocking: this bench process (RSS ${(benchRss / MiB).toFixed(0)} MiB) spawning the server's standby command (node cgexec-standby --request-fd=4) ${blocking.n} times; p50/p99/max ${blocking.p50.toFixed(2)}/${blocking.p99.toFixed(2)}/${blocking.max.toFixed(2)} ms. libuv's spawn forks and waits until the child has exec'd, on the caller's thread.`,
      `Take on its own: ${take.n} booted cgexec-standby processes (no cgroup, no account: the floor of a start from a standby, without the RPC, the server's checks and the drop) each sent a request for ${dateNs.join(" ")}; the wall time from just before the write to the time date printed: p50/p99/max ${take.p50.toFixed(2)}/${take.p99.toFixed(2)}/${take.max.toFixed(2)} ms. Baseline: sh -c '${dateNs.join(" ")}; exec ${dateNs.join(" ")}', the second time minus the first, p50/p99/max ${shell.p50.toFixed(2)}/${shell.p99.toFixed(2)}/${shell.max.toFixed(2)} ms. Both include date's own start-up; the difference is the standby's own steps and the execve of a booted, multi-threaded Node process.`,
    ],
    ...(profile === undefined ? {} : { profile }),
  };
}
