import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { JobState } from "@jobexec/proto";
import { forkClient } from "../child-client.ts";
import { withServer, type Context } from "../context.ts";
import { BenchError } from "../error.ts";
import type { FromClient, ToClient } from "../fanout-client.ts";
import { startFollower, type FollowedDigest } from "../fanout-follower.ts";
import { startJob } from "../jobs.ts";
import { openSession } from "../lean-follow.ts";
import { readCpuSeconds, readMemory, watchMemory } from "../proc.ts";
import type { Section } from "../result.ts";
import { jobProgram } from "../sibling.ts";
import { epochMs, summarize } from "../stats.ts";
import { ticker } from "../workloads.ts";

const intervalMs = 10;
// Generous: attaching 1000 streams to a busy server on a loaded machine can take minutes.
const attachTimeoutMs = 300_000;
const linePattern = /^\d{6,} \d+\.\d{3}$/;

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
 * Figure 4: N followers of one job that writes a timestamped line every 10 ms, spread over several client processes
 * (so that no client thread is the bottleneck) and HTTP/2 connections: every copy byte-identical to the job's output
 * file, write-to-receive latency, the server's memory and CPU, each client process's CPU. Baseline: a single follower
 * of the same program on the same server before the others attach.
 */
export async function fanoutFigure(context: Context): Promise<{ section: Section; identical: boolean }> {
  const { sizes } = context;
  const perClient = (total: number, i: number): number => Math.floor(total / sizes.followerClients) + (i < total % sizes.followerClients ? 1 : 0);
  const { result, profile } = await withServer(context, "fanout", async (server) => {
    const idle = await readMemory(server.pid);
    const control = server.client();
    const fileDigest = async (id: string): Promise<FollowedDigest & { lines: number }> => {
      const original = await readFile(server.stdoutPath(id));
      const lines = original.toString().split("\n");
      if (lines.pop() !== "" || !lines.every((line) => linePattern.test(line))) {
        throw new BenchError("workload", `job ${id}: the output is not whole timestamped lines`);
      }
      return { bytes: original.length, sha256: createHash("sha256").update(original).digest("hex"), messages: 0, lines: lines.length };
    };
    const stop = async (id: string) => {
      const { job } = await control.stopJob({ id, gracePeriod: { seconds: 0n, nanos: 0 } });
      if (job?.state !== JobState.STOPPED) throw new BenchError("workload", `job ${id} ended before the bench stopped it`);
    };

    // Baseline: one follower alone on a job of its own, counting the lines written after its first chunk arrived.
    const tickerProgram = await jobProgram("ticker", context.dir);
    const solo = await startJob(control, ticker(tickerProgram, intervalMs));
    let singleFrom = Number.POSITIVE_INFINITY;
    const soloSession = await openSession(server.url, context.tls);
    const single = startFollower(soloSession, solo.id, () => singleFrom);
    singleFrom = await within(single.attached, attachTimeoutMs, "the single follower's first chunk");
    await sleep(sizes.baselineWindowMs);
    const singleSamples = single.samples.slice();
    await stop(solo.id);
    const soloCopy = await single.done;
    soloSession.close();
    const soloFile = await fileDigest(solo.id);

    // Fan-out: the followers attach while the job is quiet (only its line 0 is written), then it ticks.
    const clients = Array.from({ length: sizes.followerClients }, () => forkClient<FromClient, ToClient>("fanout-client"));
    const goFile = join(context.dir, "fanout-go");
    const job = await startJob(control, ticker(tickerProgram, intervalMs, goFile));
    context.progress(`fanout: attaching ${sizes.followers} followers from ${clients.length} processes over ${sizes.followerConnections} connections`);
    try {
      await within(Promise.all(clients.map((c) => c.ready)), attachTimeoutMs, "fan-out client processes ready");
      const memory = watchMemory(server.pid);
      const pids = clients.map((c) => c.child.pid as number);
      const cpuBefore = await Promise.all([server.pid, ...pids].map(readCpuSeconds));
      const attachStart = performance.now();
      clients.forEach((c, i) =>
        c.send({
          type: "follow",
          url: server.url,
          tls: context.tls,
          jobId: job.id,
          followers: perClient(sizes.followers, i),
          connections: perClient(sizes.followerConnections, i),
        }),
      );
      const done = clients.map((c) => c.next("done"));
      done.forEach((d) => d.catch(() => undefined));
      await within(Promise.all(clients.map((c) => c.next("attached"))), attachTimeoutMs, `${sizes.followers} followers' first chunks`);
      const attachMs = performance.now() - attachStart;
      const from = epochMs();
      for (const c of clients) c.send({ type: "measure", from });
      await writeFile(goFile, "");
      context.progress(`fanout: all attached after ${attachMs.toFixed(0)} ms; measuring for ${sizes.fanoutWindowMs} ms`);
      await sleep(sizes.fanoutWindowMs);
      await stop(job.id);
      const drainStart = performance.now();
      const results = await Promise.all(done);
      const drainMs = performance.now() - drainStart;
      const cpuAfter = await Promise.all([server.pid, ...pids].map(readCpuSeconds));
      const busyMs = performance.now() - attachStart;
      const [serverCpu = 0, ...clientCpu] = cpuAfter.map((after, i) => after - (cpuBefore[i] ?? 0));
      const peak = await memory.stop();
      const file = await fileDigest(job.id);
      const copies = results.flatMap((r) => r.copies);
      const same = (copy: FollowedDigest, original: FollowedDigest): boolean => copy.bytes === original.bytes && copy.sha256 === original.sha256;
      const samples = new Float64Array(results.reduce((n, r) => n + r.samples.length, 0));
      results.reduce((at, r) => (samples.set(r.samples, at), at + r.samples.length), 0);
      return {
        messages: copies.reduce((n, c) => n + c.messages, 0),
        identical: copies.length === sizes.followers && copies.every((c) => same(c, file)) && same(soloCopy, soloFile),
        bytes: file.bytes,
        lines: file.lines,
        attachMs,
        drainMs,
        busyMs,
        serverCpu,
        clientCpu,
        idle,
        peak,
        singleSamples,
        samples,
      };
    } finally {
      for (const c of clients) {
        if (c.child.exitCode === null) c.send({ type: "exit" });
      }
    }
  });

  const fan = summarize(result.samples, "fan-out latency");
  const single = summarize(result.singleSamples, "single follower latency");
  const busiest = Math.max(...result.clientCpu);
  const seconds = result.busyMs / 1000;
  const section: Section = {
    id: "fanout",
    title: `4. Fan-out: ${sizes.followers} followers of one job writing a line every ${intervalMs} ms`,
    rows: [
      {
        metric: "write-to-receive p50",
        unit: "ms",
        value: fan.p50,
        baselines: [{ name: "one follower alone", value: single.p50 }],
        target: { op: "<=", value: 10 },
      },
      {
        metric: "write-to-receive p99",
        unit: "ms",
        value: fan.p99,
        baselines: [{ name: "one follower alone", value: single.p99 }],
        target: { op: "<=", value: 50 },
      },
      {
        metric: "server peak RSS (VmHWM)",
        unit: "MiB",
        value: mib(result.peak.peakBytes),
        baselines: [{ name: "server idle, before the job", value: mib(result.idle.rssBytes) }],
        target: { op: "<=", value: 200 },
      },
      {
        metric: "server CPU while followed",
        unit: "s",
        value: result.serverCpu,
        baselines: [{ name: `the busiest of the ${result.clientCpu.length} client processes`, value: busiest }],
      },
      { metric: "copies byte-identical", unit: "", value: result.identical ? 1 : 0, baselines: [], target: { op: ">=", value: 1 } },
    ],
    notes: [
      `${sizes.followers} followers in ${sizes.followerClients} client processes (${sizes.followerConnections} HTTP/2 connections in all), each from offset 0 with follow; plus the baseline follower in the bench process. Every follower is the lean client (lean-follow.ts: node:http2, the gRPC envelope, protobuf-es's fromBinary per message), not connect-node's, whose per-call pipeline cost the client processes more CPU than the server.`,
      `Job: ticker, a line "<seq> <epoch ms>" every ${intervalMs} ms, one write(2) each. Its line 0 is written at once; the next ones start when every follower has received line 0, and the bench stops the job (StopJob, grace 0) ${sizes.fanoutWindowMs} ms later. Latency = receive time - the line's timestamp, same host clock.`,
      `Attaching all followers to the quiet job took ${result.attachMs.toFixed(0)} ms; after the stop, the streams took ${result.drainMs.toFixed(0)} ms to deliver the rest and end. ${fan.n} latency samples.`,
      `Baseline: one follower alone on a job of its own (same server, same program) for ${sizes.baselineWindowMs} ms after its first chunk (${single.n} lines).`,
      `CPU over the ${seconds.toFixed(1)} s from the first attach to the last stream's end: server ${result.serverCpu.toFixed(1)} s; client processes ${result.clientCpu.map((s) => `${s.toFixed(1)} s`).join(", ")}. A process near ${seconds.toFixed(0)} s is saturated (the machine has ${availableParallelism()} cores).`,
      `Messages delivered: ${result.messages} (${((result.lines * sizes.followers) / result.messages).toFixed(2)} lines each on average); server CPU ${((1e6 * result.serverCpu) / result.messages).toFixed(1)} µs per message.`,
      `Max latency: fan-out ${fan.max.toFixed(1)} ms, single ${single.max.toFixed(1)} ms. Highest sampled VmRSS while followed: ${mib(result.peak.rssBytes).toFixed(0)} MiB.`,
      `Every copy (${result.lines} lines, ${result.bytes} bytes; compared by length and SHA-256), and the baseline follower's, against its job's output file: ${result.identical ? "all identical" : "SOME DIFFER"}.`,
    ],
    ...(profile === undefined ? {} : { profile }),
  };
  return { section, identical: result.identical };
}
