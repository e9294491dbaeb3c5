import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { JobState } from "@jobexec/proto";
import { withServer, type Context } from "../context.ts";
import { BenchError } from "../error.ts";
import { follow, startJob, type Followed, type JobClient } from "../jobs.ts";
import { readCpuSeconds, readMemory, watchMemory } from "../proc.ts";
import type { Section } from "../result.ts";
import { epochMs, summarize } from "../stats.ts";
import { ticker } from "../workloads.ts";

const intervalMs = 10;
const newline = 0x0a;
// Generous: attaching 1000 streams to a busy server on a loaded machine can take minutes.
const attachTimeoutMs = 300_000;
const linePattern = /^\d{6,} \d+\.\d{3}$/;

/**
 * One follower of the fan-out job. It turns each received chunk into latencies: for every complete line, receive
 * time minus the timestamp the writer put in the line; only lines written at or after `from()` count (earlier ones
 * are backlog). `attached` resolves at its first chunk.
 */
function startFollower(client: JobClient, id: string, from: () => number): { samples: number[]; attached: Promise<number>; done: Promise<Followed> } {
  const samples: number[] = [];
  const decoder = new TextDecoder();
  const { promise: attached, resolve: markAttached } = Promise.withResolvers<number>();
  let partial = "";
  const done = follow(client, id, {
    keep: true,
    onChunk(data) {
      const received = epochMs();
      markAttached(received);
      if (data.lastIndexOf(newline) < 0) {
        partial += decoder.decode(data);
        return;
      }
      const lines = (partial + decoder.decode(data)).split("\n");
      partial = lines.pop() ?? "";
      const since = from();
      for (const line of lines) {
        const written = Number(line.slice(line.indexOf(" ") + 1));
        if (written >= since) samples.push(received - written);
      }
    },
  });
  // A stream that ends or fails before its first chunk must not leave `attached` pending forever.
  void done.then(
    () => markAttached(Number.NaN),
    () => markAttached(Number.NaN),
  );
  return { samples, attached, done };
}

const mib = (bytes: number): number => bytes / 2 ** 20;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves as `promise` does, or fails after `ms` naming what did not happen. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BenchError("measurement", `no ${what} within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Figure 4: N followers of one job that writes a timestamped line every 10 ms, spread over several HTTP/2
 * connections: every copy byte-identical to the job's output file, write-to-receive latency, the server child's
 * memory. Baseline: a single follower of the same job on the same server before the others attach.
 */
export async function fanoutFigure(context: Context): Promise<{ section: Section; identical: boolean }> {
  const { sizes } = context;
  const perConnection = Math.ceil(sizes.followers / sizes.followerConnections);
  const { result, profile } = await withServer(context, "fanout", async (server) => {
    const idle = await readMemory(server.pid);
    const control = server.client();
    const sameAsFile = async (id: string, copies: Followed[]) => {
      const original = await readFile(server.stdoutPath(id));
      const lines = original.toString().split("\n");
      if (lines.pop() !== "" || !lines.every((line) => linePattern.test(line))) {
        throw new BenchError("workload", `job ${id}: the output is not whole timestamped lines`);
      }
      return { identical: copies.every((copy) => Buffer.concat(copy.chunks).equals(original)), bytes: original.length, lines: lines.length };
    };
    const stop = async (id: string) => {
      const { job } = await control.stopJob({ id, gracePeriod: { seconds: 0n, nanos: 0 } });
      if (job?.state !== JobState.STOPPED) throw new BenchError("workload", `job ${id} ended before the bench stopped it`);
    };

    // Baseline: one follower alone on a job of its own, counting the lines written after its first chunk arrived.
    const solo = await startJob(control, ticker(intervalMs));
    let singleFrom = Number.POSITIVE_INFINITY;
    const single = startFollower(server.client(), solo.id, () => singleFrom);
    singleFrom = await within(single.attached, attachTimeoutMs, "the single follower's first chunk");
    await sleep(sizes.baselineWindowMs);
    const singleSamples = single.samples.slice();
    await stop(solo.id);
    const soloCheck = await sameAsFile(solo.id, [await single.done]);

    // Fan-out: the followers attach while the job is quiet (only its line 0 is written), then it ticks.
    const goFile = join(context.dir, "fanout-go");
    const job = await startJob(control, ticker(intervalMs, goFile));
    context.progress(`fanout: attaching ${sizes.followers} followers over ${sizes.followerConnections} connections`);
    const memory = watchMemory(server.pid);
    const cpuBefore = await readCpuSeconds(server.pid);
    const ownCpuBefore = process.cpuUsage();
    const clients: JobClient[] = Array.from({ length: sizes.followerConnections }, () => server.client());
    let allAttachedAt = Number.POSITIVE_INFINITY;
    const attachStart = performance.now();
    const followers = Array.from({ length: sizes.followers }, (_, i) =>
      startFollower(clients[Math.floor(i / perConnection)] ?? control, job.id, () => allAttachedAt),
    );
    await within(Promise.all(followers.map((f) => f.attached)), attachTimeoutMs, `${sizes.followers} followers' first chunks`);
    const attachMs = performance.now() - attachStart;
    allAttachedAt = epochMs();
    await writeFile(goFile, "");
    context.progress(`fanout: all attached after ${attachMs.toFixed(0)} ms; measuring for ${sizes.fanoutWindowMs} ms`);
    await sleep(sizes.fanoutWindowMs);
    await stop(job.id);
    const drainStart = performance.now();
    const copies = await Promise.all(followers.map((f) => f.done));
    const drainMs = performance.now() - drainStart;
    const cpu = (await readCpuSeconds(server.pid)) - cpuBefore;
    const ownCpu = process.cpuUsage(ownCpuBefore);
    const clientCpu = (ownCpu.user + ownCpu.system) / 1e6;
    const busyMs = performance.now() - attachStart;
    const peak = await memory.stop();
    const check = await sameAsFile(job.id, copies);
    return {
      identical: check.identical && soloCheck.identical,
      bytes: check.bytes,
      lines: check.lines,
      attachMs,
      drainMs,
      busyMs,
      cpu,
      clientCpu,
      idle,
      peak,
      singleSamples,
      fan: followers.flatMap((f) => f.samples),
    };
  });

  const fan = summarize(result.fan, "fan-out latency");
  const single = summarize(result.singleSamples, "single follower latency");
  const section: Section = {
    id: "fanout",
    title: `4. Fan-out: ${sizes.followers} followers of one job writing a line every ${intervalMs} ms`,
    rows: [
      { metric: "write-to-receive p50", unit: "ms", value: fan.p50, baselines: [{ name: "one follower alone", value: single.p50 }] },
      {
        metric: "write-to-receive p99",
        unit: "ms",
        value: fan.p99,
        baselines: [{ name: "one follower alone", value: single.p99 }],
        target: { op: "<=", value: 100 },
      },
      {
        metric: "server peak RSS (VmHWM)",
        unit: "MiB",
        value: mib(result.peak.peakBytes),
        baselines: [{ name: "server idle, before the job", value: mib(result.idle.rssBytes) }],
        target: { op: "<=", value: 300 },
      },
      {
        metric: "server CPU while followed",
        unit: "s",
        value: result.cpu,
        baselines: [{ name: "the bench process (all followers)", value: result.clientCpu }],
      },
      { metric: "copies byte-identical", unit: "", value: result.identical ? 1 : 0, baselines: [], target: { op: ">=", value: 1 } },
    ],
    notes: [
      `${sizes.followers} followers over ${sizes.followerConnections} HTTP/2 connections (${perConnection} streams each), all in the bench process, each from offset 0 with follow; plus the baseline follower on its own connection.`,
      `Job: ticker, a line "<seq> <epoch ms>" every ${intervalMs} ms, one write(2) each. Its line 0 is written at once; the next ones start when every follower has received line 0, and the bench stops the job (StopJob, grace 0) ${sizes.fanoutWindowMs} ms later. Latency = receive time - the line's timestamp, same host clock.`,
      `Attaching all followers to the quiet job took ${result.attachMs.toFixed(0)} ms; after the stop, the streams took ${result.drainMs.toFixed(0)} ms to deliver the rest and end. ${fan.n} latency samples.`,
      `Baseline: one follower alone on a job of its own (same server, same program) for ${sizes.baselineWindowMs} ms after its first chunk (${single.n} lines).`,
      `CPU over the ${(result.busyMs / 1000).toFixed(1)} s from the first attach to the last stream's end: server ${result.cpu.toFixed(1)} s, bench (every follower, one Node thread) ${result.clientCpu.toFixed(1)} s; a process near 1 s per second is the bottleneck.`,
      `Max latency: fan-out ${fan.max.toFixed(1)} ms, single ${single.max.toFixed(1)} ms. Highest sampled VmRSS while followed: ${mib(result.peak.rssBytes).toFixed(0)} MiB.`,
      `Every copy (${result.lines} lines, ${result.bytes} bytes), and the baseline follower's, compared with its job's output file: ${result.identical ? "all identical" : "SOME DIFFER"}.`,
    ],
    ...(profile === undefined ? {} : { profile }),
  };
  return { section, identical: result.identical };
}
