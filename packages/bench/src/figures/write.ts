import { execFile } from "node:child_process";
import { rm } from "node:fs/promises";
import { promisify } from "node:util";
import { join } from "node:path";
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

    context.progress("follow: one follower of the finished output, then local and TLS baselines");
    const finished = await timed(async () => (await follow(client, lastJobId, { keep: false })).bytes);
    const identity = server.client({ compression: false });
    const finishedIdentity = await timed(async () => (await follow(identity, lastJobId, { keep: false })).bytes);
    const file = server.stdoutPath(lastJobId);
    const local = await readLocal(file);
    const overTls = await readOverTls(file, context.tls);

    context.progress("follow: one follower of a job while it writes");
    const liveStart = performance.now();
    const live = await startJob(client, command);
    const liveBytes = (await follow(client, live.id, { keep: false })).bytes;
    const liveFollow = { bytes: liveBytes, ms: performance.now() - liveStart };
    for (const t of [finished, finishedIdentity, local, overTls, liveFollow]) {
      if (t.bytes !== sizes.writeBytes) throw new BenchError("workload", `a reader got ${t.bytes} bytes, not ${sizes.writeBytes}`);
    }
    return { direct, service, directWrite, serviceWrite, serverCpu, finished, finishedIdentity, local, overTls, liveFollow };
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
  // Both finished-job follows against the same two baselines and the same target.
  const finishedRow = (metric: string, transfer: Transfer): Row => ({
    metric,
    unit: "MB/s",
    value: mbPerSecond(transfer),
    baselines: [
      { name: "fs read, 64 KiB chunks", value: mbPerSecond(result.local) },
      { name: "plain mTLS socket on loopback", value: mbPerSecond(result.overTls) },
    ],
    target: { op: ">=", value: 500 },
  });
  const follow1: Section = {
    id: "follow",
    title: `3. Follow throughput: one StreamOutput follower of a ${mib(sizes.writeBytes)} output`,
    rows: [
      finishedRow("finished job, client defaults (gzip accepted; the server sends identity)", result.finished),
      finishedRow("finished job, client accepting identity only", result.finishedIdentity),
      {
        metric: "live: follower attached at start",
        unit: "MB/s",
        value: mbPerSecond(result.liveFollow),
        baselines: [{ name: "the writer alone (direct, to a file)", value: writerRate }],
      },
    ],
    notes: [
      "Finished: the file is in the page cache for the service and both baselines; the follower runs in the bench process, the server (and tls-source) in a child.",
      "Live: from just before StartJob to the stream's final status, with the follower opened right after StartJob returned (client defaults).",
      "connect-node clients accept gzip and brotli by default; the server accepts and sends no compression (acceptCompression: []), so both rows are uncompressed streams: the first is what a default client (like the CLI) asks for, the second a client asking for identity only.",
      "MB = 10^6 bytes. Every reader's byte count and the stream's chunk offsets are checked.",
    ],
  };
  return [write, follow1];
}

/** Times a transfer that returns its byte count. */
async function timed(body: () => Promise<number>): Promise<Transfer> {
  const start = performance.now();
  const bytes = await body();
  return { bytes, ms: performance.now() - start };
}
