import { readFile } from "node:fs/promises";
import { withServer, type Context } from "../context.ts";
import { BenchError } from "../error.ts";
import { follow, startJob, type Followed, type JobClient } from "../jobs.ts";
import { readCpuSeconds, readMemory, watchMemory } from "../proc.ts";
import type { Section } from "../result.ts";
import { epochMs, summarize } from "../stats.ts";
import { ticker } from "../workloads.ts";

const intervalMs = 10;
const newline = 0x0a;

/**
 * A follower that turns each received chunk into latencies: for every complete line, receive time minus the
 * timestamp the writer put in the line; only lines written at or after `from()` count (earlier ones are backlog).
 */
function latencyRecorder(from: () => number): { samples: number[]; onChunk(data: Uint8Array): void } {
  const samples: number[] = [];
  let partial = "";
  const decoder = new TextDecoder();
  return {
    samples,
    onChunk(data) {
      const received = epochMs();
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
  };
}

const mib = (bytes: number): number => bytes / 2 ** 20;

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
    const job = await startJob(control, ticker(sizes.tickerLines, intervalMs));

    // Baseline: one follower alone for a while; its live lines are those written after it attached.
    let singleFrom = Number.POSITIVE_INFINITY;
    const single = latencyRecorder(() => singleFrom);
    const singleDone = follow(server.client(), job.id, {
      keep: true,
      onChunk: (data) => {
        if (singleFrom === Number.POSITIVE_INFINITY) singleFrom = epochMs();
        single.onChunk(data);
      },
    });
    await new Promise((resolve) => setTimeout(resolve, sizes.baselineWindowMs));
    const singleSamples = single.samples.length;

    context.progress(`fanout: attaching ${sizes.followers} followers over ${sizes.followerConnections} connections`);
    const memory = watchMemory(server.pid);
    const cpuBefore = await readCpuSeconds(server.pid);
    const clients: JobClient[] = Array.from({ length: sizes.followerConnections }, () => server.client());
    let attached = 0;
    let allAttachedAt = Number.POSITIVE_INFINITY;
    const attachStart = performance.now();
    const { promise: allAttached, resolve: markAttached } = Promise.withResolvers<undefined>();
    const recorders = Array.from({ length: sizes.followers }, () => latencyRecorder(() => allAttachedAt));
    const followers: Promise<Followed>[] = recorders.map((recorder, i) => {
      let first = true;
      return follow(clients[Math.floor(i / perConnection)] ?? control, job.id, {
        keep: true,
        onChunk: (data) => {
          if (first) {
            first = false;
            attached += 1;
            if (attached === sizes.followers) {
              allAttachedAt = epochMs();
              markAttached(undefined);
            }
          }
          recorder.onChunk(data);
        },
      });
    });
    await Promise.race([allAttached, Promise.all(followers)]);
    const attachMs = performance.now() - attachStart;
    context.progress(`fanout: all attached after ${attachMs.toFixed(0)} ms; waiting for the job to end`);
    const copies = await Promise.all(followers);
    const cpu = (await readCpuSeconds(server.pid)) - cpuBefore;
    const peak = await memory.stop();
    const singleCopy = await singleDone;

    const original = await readFile(server.stdoutPath(job.id));
    const same = (copy: Followed) => Buffer.concat(copy.chunks).equals(original);
    const identical = copies.every(same) && same(singleCopy);
    const expectedBytes = original.length;
    if (original.toString().split("\n").length - 1 !== sizes.tickerLines) {
      throw new BenchError("workload", `the fan-out job wrote ${original.toString().split("\n").length - 1} lines, not ${sizes.tickerLines}`);
    }
    return {
      identical,
      expectedBytes,
      attachMs,
      cpu,
      idle,
      peak,
      single: single.samples.slice(0, singleSamples),
      fan: recorders.flatMap((r) => r.samples),
    };
  });

  const fan = summarize(result.fan, "fan-out latency");
  const single = summarize(result.single, "single follower latency");
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
      `Job: ticker, ${sizes.tickerLines} lines of "<seq> <epoch ms>" one every ${intervalMs} ms, one write(2) each. Latency = receive time - the line's timestamp, same host clock.`,
      `Baseline: the one follower alone for ${sizes.baselineWindowMs} ms before the others attach (${result.single.length} lines). Fan-out latency counts lines written after the last follower attached (${fan.n} samples; attaching took ${result.attachMs.toFixed(0)} ms).`,
      `Max latency: fan-out ${fan.max.toFixed(1)} ms, single ${single.max.toFixed(1)} ms. Highest sampled VmRSS while followed: ${mib(result.peak.rssBytes).toFixed(0)} MiB.`,
      `Every copy (${result.expectedBytes} bytes) compared with the job's output file: ${result.identical ? "all identical" : "SOME DIFFER"}.`,
    ],
    ...(profile === undefined ? {} : { profile }),
  };
  return { section, identical: result.identical };
}
