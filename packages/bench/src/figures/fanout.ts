import { readFile } from "node:fs/promises";
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
// More lines than any run needs: the bench stops the job once it has measured, whatever the machine's speed.
const endlessLines = 1_000_000;
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
    const job = await startJob(control, ticker(endlessLines, intervalMs));

    // Baseline: one follower alone for a while, counting the lines written after its first chunk arrived.
    let singleFrom = Number.POSITIVE_INFINITY;
    const single = startFollower(server.client(), job.id, () => singleFrom);
    singleFrom = await single.attached;
    await sleep(sizes.baselineWindowMs);
    const singleSamples = single.samples.slice();

    context.progress(`fanout: attaching ${sizes.followers} followers over ${sizes.followerConnections} connections`);
    const memory = watchMemory(server.pid);
    const cpuBefore = await readCpuSeconds(server.pid);
    const clients: JobClient[] = Array.from({ length: sizes.followerConnections }, () => server.client());
    let allAttachedAt = Number.POSITIVE_INFINITY;
    const attachStart = performance.now();
    const followers = Array.from({ length: sizes.followers }, (_, i) =>
      startFollower(clients[Math.floor(i / perConnection)] ?? control, job.id, () => allAttachedAt),
    );
    await Promise.all(followers.map((f) => f.attached));
    allAttachedAt = epochMs();
    const attachMs = performance.now() - attachStart;
    context.progress(`fanout: all attached after ${attachMs.toFixed(0)} ms; measuring for ${sizes.fanoutWindowMs} ms`);
    await sleep(sizes.fanoutWindowMs);
    const { job: stopped } = await control.stopJob({ id: job.id, gracePeriod: { seconds: 0n, nanos: 0 } });
    if (stopped?.state !== JobState.STOPPED) throw new BenchError("workload", `the fan-out job ended before the bench stopped it`);
    const copies = await Promise.all(followers.map((f) => f.done));
    const cpu = (await readCpuSeconds(server.pid)) - cpuBefore;
    const peak = await memory.stop();
    const singleCopy = await single.done;

    const original = await readFile(server.stdoutPath(job.id));
    const same = (copy: Followed) => Buffer.concat(copy.chunks).equals(original);
    const identical = copies.every(same) && same(singleCopy);
    const lines = original.toString().split("\n");
    if (lines.pop() !== "" || !lines.every((line) => linePattern.test(line))) {
      throw new BenchError("workload", "the fan-out job's output is not whole timestamped lines");
    }
    return { identical, bytes: original.length, lines: lines.length, attachMs, cpu, idle, peak, singleSamples, fan: followers.flatMap((f) => f.samples) };
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
      { metric: "server CPU while followed", unit: "s", value: result.cpu, baselines: [] },
      { metric: "copies byte-identical", unit: "", value: result.identical ? 1 : 0, baselines: [], target: { op: ">=", value: 1 } },
    ],
    notes: [
      `${sizes.followers} followers over ${sizes.followerConnections} HTTP/2 connections (${perConnection} streams each), all in the bench process, each from offset 0 with follow; plus the baseline follower on its own connection.`,
      `Job: ticker, a line "<seq> <epoch ms>" every ${intervalMs} ms, one write(2) each, stopped by the bench (StopJob, grace 0) ${sizes.fanoutWindowMs} ms after the last follower attached. Latency = receive time - the line's timestamp, same host clock.`,
      `Baseline: the one follower alone for ${sizes.baselineWindowMs} ms after its first chunk, before the others attach (${single.n} lines). Fan-out latency counts lines written after the last follower attached (${fan.n} samples; attaching took ${result.attachMs.toFixed(0)} ms).`,
      `Max latency: fan-out ${fan.max.toFixed(1)} ms, single ${single.max.toFixed(1)} ms. Highest sampled VmRSS while followed: ${mib(result.peak.rssBytes).toFixed(0)} MiB.`,
      `Every copy (${result.lines} lines, ${result.bytes} bytes) compared with the job's output file: ${result.identical ? "all identical" : "SOME DIFFER"}.`,
    ],
    ...(profile === undefined ? {} : { profile }),
  };
  return { section, identical: result.identical };
}
