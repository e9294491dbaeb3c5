import { execFile } from "node:child_process";
import { rm } from "node:fs/promises";
import { promisify } from "node:util";
import { join } from "node:path";
import { runCliLogs } from "../cli.ts";
import type { ClientOptions } from "../client.ts";
import { withServer, type Context } from "../context.ts";
import { runDirect } from "../direct.ts";
import { BenchError } from "../error.ts";
import { firstByte } from "../first-byte.ts";
import { endedAtMs, follow, startJob, waitEnded } from "../jobs.ts";
import { readCpuSeconds } from "../proc.ts";
import type { Row, Section } from "../result.ts";
import { epochMs, median } from "../stats.ts";
import { mbPerSecond, readLocal, readOverTls, type Transfer } from "../transfer.ts";
import { writeBytes } from "../workloads.ts";

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

// Before each timed write: flush the dirty pages the previous run left, so that no run pays for another's writeback.
const settle = (): Promise<unknown> => promisify(execFile)("sync");

/**
 * Figures 2 and 3, on one server: the wall time of a job writing N bytes to stdout against the same program writing
 * to a file when spawned from Node; then one StreamOutput follower of that output (finished, and live while it is
 * written) against reading the file locally and over plain TLS.
 */
export async function writeAndFollowFigures(context: Context): Promise<Section[]> {
  const { sizes, dir } = context;
  const command = writeBytes(sizes.writeBytes);
  const { result, profile } = await withServer(context, "write", async (server) => {
    const client = server.client();
    const direct: number[] = [];
    const service: number[] = [];
    // The same runs from the first byte in the file to the end: the write path without the start.
    const directWrite: number[] = [];
    const serviceWrite: number[] = [];
    const serverCpu: number[] = [];
    let lastJobId = "";
    // An untimed run first: the first big write after boot (or after other work) pays for memory the VM has not
    // touched yet. Then alternate the two so that drift on the shared machine hits both alike, and delete each
    // output after its run (the last job's is kept for the follow figure): a run that follows a deleted 1 GiB file
    // reuses warm pages, one that follows a kept file needs fresh ones, and on this VM that costs up to 10x.
    const warm = join(dir, "write-warm.out");
    await runDirect(command.program, command.args, warm);
    await rm(warm);
    for (let i = 0; i < sizes.writeRepeats; i++) {
      context.progress(`write: run ${i + 1}/${sizes.writeRepeats}, ${mib(sizes.writeBytes)} direct and as a job`);
      const out = join(dir, "write-direct.out");
      await settle();
      const run = await runDirect(command.program, command.args, out);
      direct.push(run.exitMs);
      directWrite.push(run.exitMs - run.firstByteMs);
      await rm(out);
      await settle();
      const cpuBefore = await readCpuSeconds(server.pid);
      const start = epochMs();
      const started = await startJob(client, command);
      const firstByteAt = performance.timeOrigin + (await firstByte(server.stdoutPath(started.id)));
      const job = await waitEnded(client, started.id);
      service.push(endedAtMs(job) - start);
      serviceWrite.push(endedAtMs(job) - firstByteAt);
      serverCpu.push((await readCpuSeconds(server.pid)) - cpuBefore);
      if (job.output?.stdoutBytes !== BigInt(sizes.writeBytes)) {
        throw new BenchError("workload", `write job ${job.id} wrote ${job.output?.stdoutBytes} bytes, not ${sizes.writeBytes}`);
      }
      lastJobId = job.id;
      if (i < sizes.writeRepeats - 1) await rm(server.stdoutPath(job.id));
    }

    context.progress("follow: one follower of the finished output (three clients), the CLI, then local and TLS baselines");
    const file = server.stdoutPath(lastJobId);
    const emptyJob = await waitEnded(client, (await startJob(client, { program: "true", args: [] })).id);
    // CPU of the server and of this process (the receiving end) during a transfer: which side limits it.
    const withCpu = async <T>(body: () => Promise<T>): Promise<T & Cpu> => {
      const serverBefore = await readCpuSeconds(server.pid);
      const clientBefore = process.cpuUsage();
      const value = await body();
      const client = process.cpuUsage(clientBefore);
      return { ...value, serverCpu: (await readCpuSeconds(server.pid)) - serverBefore, clientCpu: (client.user + client.system) / 1e6 };
    };
    const followed = (options: ClientOptions) => withCpu(() => timed(async () => (await follow(server.client(options), lastJobId, { keep: false })).bytes));
    const finished = await followed({});
    const finishedIdentity = await followed({ compression: false });
    const finishedDefaultWindows = await followed({ windows: "defaults" });
    // The CLI's start-up, connection and one call, measured on an empty output (median of three) and subtracted.
    const cliEmpty = { ms: median([await runCliLogs(context, server, emptyJob.id), await runCliLogs(context, server, emptyJob.id), await runCliLogs(context, server, emptyJob.id)].map((r) => r.ms), "CLI start-up") };
    const cli = await runCliLogs(context, server, lastJobId);
    const local = await readLocal(file);
    const overTls = await withCpu(() => readOverTls(file, context.tls));

    context.progress("follow: one follower of a job while it writes");
    const liveStart = performance.now();
    const live = await startJob(client, command);
    // Timed from the first chunk: the job's start (figure 1) is not the follow path's.
    const firstChunk = { at: Number.NaN, bytes: 0 };
    const onChunk = (data: Uint8Array): void => {
      if (firstChunk.bytes === 0) Object.assign(firstChunk, { at: performance.now(), bytes: data.length });
    };
    const liveBytes = (await follow(client, live.id, { keep: false, onChunk })).bytes;
    const liveEnd = performance.now();
    const liveWithStart = { bytes: liveBytes, ms: liveEnd - liveStart };
    const liveFollow = { bytes: liveBytes - firstChunk.bytes, ms: liveEnd - firstChunk.at };
    for (const t of [finished, finishedIdentity, finishedDefaultWindows, local, overTls, liveWithStart]) {
      if (t.bytes !== sizes.writeBytes) throw new BenchError("workload", `a reader got ${t.bytes} bytes, not ${sizes.writeBytes}`);
    }
    const liveJob = await waitEnded(client, live.id);
    const liveWriterMs = endedAtMs(liveJob) - (performance.timeOrigin + firstChunk.at);
    const cliNet = { bytes: sizes.writeBytes, ms: cli.ms - cliEmpty.ms };
    return {
      direct,
      service,
      directWrite,
      serviceWrite,
      serverCpu,
      finished,
      finishedIdentity,
      finishedDefaultWindows,
      cli,
      cliEmpty,
      cliNet,
      local,
      overTls,
      liveFollow,
      liveWithStart,
      liveWriterMs,
    };
  });

  const directMs = median(result.direct, "direct write");
  const serviceMs = median(result.service, "job write");
  const writerRate = sizes.writeBytes / 1e6 / (directMs / 1000);
  const write: Section = {
    id: "write",
    title: `2. Write path: a job writing ${mib(sizes.writeBytes)} to stdout as fast as it can`,
    rows: [
      {
        metric: "wall time (median)",
        unit: "ms",
        value: serviceMs,
        baselines: [{ name: "same program, stdout to a file, spawned from Node", value: directMs }],
      },
      { metric: "ratio to baseline", unit: "x", value: serviceMs / directMs, baselines: [], target: { op: "<=", value: 1.05 } },
      {
        metric: "first byte to end (median)",
        unit: "ms",
        value: median(result.serviceWrite, "job write phase"),
        baselines: [{ name: "same, direct", value: median(result.directWrite, "direct write phase") }],
      },
      { metric: "server CPU during the job (median)", unit: "s", value: median(result.serverCpu, "server CPU"), baselines: [] },
    ],
    notes: [
      `Program: node slow.js 0 --bytes ${sizes.writeBytes}; ${sizes.writeRepeats} runs each, alternating, medians shown.`,
      "Service wall time: from just before the StartJob call to the job's end time as the server recorded it (end = main process gone and cgroup empty); the client learns of the end by a GetJob every 100 ms, which does not enter the figure.",
      "Baseline wall time: from opening the output file to the exit event of the child. One untimed direct run first; every timed run starts after a sync(1) and right after the previous run's output was deleted, so that no run pays for another's writeback or for memory the VM has not touched yet.",
      "First byte to end: the write path alone, without the start (the first byte is seen through inotify on the output file, as in figure 1).",
      `Runs (ms): service ${result.service.map((v) => v.toFixed(0)).join(", ")}; direct ${result.direct.map((v) => v.toFixed(0)).join(", ")}.`,
    ],
    ...(profile === undefined ? {} : { profile }),
  };
  const tlsRate = mbPerSecond(result.overTls);
  const tlsBaseline = { name: "plain mTLS socket on loopback", value: tlsRate };
  const overTlsRow = (metric: string, transfer: Transfer, target: number): Row => ({
    metric,
    unit: "x",
    value: mbPerSecond(transfer) / tlsRate,
    baselines: [],
    target: { op: ">=", value: target },
  });
  // Finished-job follows against the same two baselines.
  const finishedRow = (metric: string, transfer: Transfer): Row => ({
    metric,
    unit: "MB/s",
    value: mbPerSecond(transfer),
    baselines: [{ name: "fs read, 64 KiB chunks", value: mbPerSecond(result.local) }, tlsBaseline],
  });
  const perGiB = (seconds: number): string => (seconds / (sizes.writeBytes / 2 ** 30)).toFixed(2);
  const follow1: Section = {
    id: "follow",
    title: `3. Follow throughput: one StreamOutput follower of a ${mib(sizes.writeBytes)} output`,
    rows: [
      finishedRow("finished job, client accepting gzip (connect-node's default; the server sends identity)", result.finished),
      overTlsRow("  ratio to the plain mTLS socket", result.finished, 0.8),
      finishedRow("finished job, client accepting identity only", result.finishedIdentity),
      overTlsRow("  ratio to the plain mTLS socket", result.finishedIdentity, 0.8),
      finishedRow("finished job, HTTP/2's default 64 KiB receive windows (connect-node's own)", result.finishedDefaultWindows),
      {
        metric: "live: follower attached at start",
        unit: "MB/s",
        value: mbPerSecond(result.liveFollow),
        baselines: [{ name: "the writer alone (direct, to a file)", value: writerRate }, tlsBaseline],
      },
      overTlsRow("  ratio to the plain mTLS socket", result.liveFollow, 0.7),
      {
        metric: "jobexec logs ID > /dev/null, finished job (the CLI's start-up excluded)",
        unit: "MB/s",
        value: mbPerSecond(result.cliNet),
        baselines: [{ name: "one follower (first row)", value: mbPerSecond(result.finished) }, tlsBaseline],
      },
      overTlsRow("  ratio to the plain mTLS socket", result.cliNet, 0.8),
    ],
    notes: [
      "Finished: the file is in the page cache for the service and both baselines; the follower runs in the bench process, the server (and tls-source) in a child.",
      "Clients: connect-node's gRPC transport with the CLI's HTTP/2 receive windows (8 MiB per stream, 16 MiB per connection; packages/cli/src/connection.ts), except the row with HTTP/2's default 64 KiB windows, which connect-node keeps unless told otherwise: the server can then send one window per round trip (the receiver sets its windows; the server cannot widen them).",
      "connect-node clients accept gzip and brotli by default; the server accepts and sends no compression (acceptCompression: []), so both first rows are uncompressed streams: the first is what a default client asks for, the second a client asking for identity only.",
      `CPU per GiB, server / receiving bench process: ${perGiB(result.finished.serverCpu)} / ${perGiB(result.finished.clientCpu)} s (gzip accepted), ${perGiB(result.finishedIdentity.serverCpu)} / ${perGiB(result.finishedIdentity.clientCpu)} s (identity), ${perGiB(result.finishedDefaultWindows.serverCpu)} / ${perGiB(result.finishedDefaultWindows.clientCpu)} s (64 KiB windows); plain mTLS socket: receiver ${perGiB(result.overTls.clientCpu)} s (its sender is tls-source, not the server). A side near its wall time per GiB is the limit.`,
      `Live: the follower opened right after StartJob returned; timed from its first chunk to the stream's final status (bytes after the first chunk), since the job's start is figure 1's. The job ended ${(result.liveWriterMs / 1000).toFixed(2)} s after that first chunk arrived, the stream ${(result.liveFollow.ms / 1000).toFixed(2)} s after; from just before StartJob: ${mbPerSecond(result.liveWithStart).toFixed(0)} MB/s.`,
      `CLI: \`jobexec logs --stream stdout ID\` with stdout on /dev/null, ${(result.cli.ms / 1000).toFixed(2)} s in all (${mbPerSecond({ bytes: sizes.writeBytes, ms: result.cli.ms }).toFixed(0)} MB/s with start-up); its start-up, connection and one call (the same command on an empty output, median of three) took ${result.cliEmpty.ms.toFixed(0)} ms and is subtracted.`,
      "MB = 10^6 bytes. Every reader's byte count and the stream's chunk offsets are checked (the CLI's by its exit status).",
    ],
  };
  return [write, follow1];
}

/** CPU seconds of the server child and of this process during a transfer. */
interface Cpu {
  serverCpu: number;
  clientCpu: number;
}

/** Times a transfer that returns its byte count. */
async function timed(body: () => Promise<number>): Promise<Transfer> {
  const start = performance.now();
  const bytes = await body();
  return { bytes, ms: performance.now() - start };
}
