// A job's output directory: the two files the job writes, their sizes, their removal.
import { statSync } from "node:fs";
import { chmod, mkdir, open, rm, stat, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { OutputMode } from "../types.ts";

/** The descriptors a job's stdout and stderr are spawned on (in merged mode both are stdout). */
export interface OutputFiles {
  stdoutFd: number;
  stderrFd: number;
  /** Closes the server's copies; the job keeps its own. */
  close(): Promise<void>;
}

/**
 * Creates the directory holding every job's output, `<dataDir>/jobs`, 0700 (made so if it was not): jobs' accounts
 * must not even list it. A data directory made on the way is 0711: jobs' accounts pass through it to their homes.
 */
export async function prepareJobsDir(jobsDir: string): Promise<void> {
  await mkdir(dirname(jobsDir), { recursive: true, mode: 0o711 });
  await mkdir(jobsDir, { recursive: true, mode: 0o700 });
  await chmod(jobsDir, 0o700);
}

/**
 * Creates `dir` (0700: output may hold secrets, readable by the server's user only) with empty `stdout` and
 * `stderr` files (0600, O_APPEND). On failure nothing is left open; the caller removes `dir`.
 */
export async function createOutputFiles(dir: string, mode: OutputMode): Promise<OutputFiles> {
  const files: FileHandle[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(files.splice(0).map((f) => f.close()));
  };
  try {
    await mkdir(dir, { mode: 0o700 });
    files.push(await open(join(dir, "stdout"), "a", 0o600));
    files.push(await open(join(dir, "stderr"), "a", 0o600));
  } catch (err) {
    await close();
    throw err;
  }
  const [stdout, stderr] = files as [FileHandle, FileHandle];
  return { stdoutFd: stdout.fd, stderrFd: mode === "merged" ? stdout.fd : stderr.fd, close };
}

/**
 * A job's output as measured: the bytes in each file (what a reader gets) and the bytes the two files take on disk
 * (allocated blocks). They differ both ways: a file made sparse (ftruncate far past its end) is large and takes
 * nothing; blocks allocated with fallocate take space that no reader sees. Limits and budgets of disk use count
 * the allocated bytes.
 */
export interface OutputSizes {
  stdout: number;
  stderr: number;
  /** Allocated bytes of both files (st_blocks x 512). */
  disk: number;
}

const none = { size: 0, blocks: 0 };
const sizesOf = (stdout: { size: number; blocks: number }, stderr: { size: number; blocks: number }): OutputSizes => ({
  stdout: stdout.size,
  stderr: stderr.size,
  disk: (stdout.blocks + stderr.blocks) * 512,
});

/** The output's sizes now; 0 for a missing file. */
export async function outputSizes(dir: string): Promise<OutputSizes> {
  const measure = (name: string): Promise<{ size: number; blocks: number }> => stat(join(dir, name)).then((s) => s, () => none);
  const [stdout, stderr] = await Promise.all([measure("stdout"), measure("stderr")]);
  return sizesOf(stdout, stderr);
}

/**
 * The output's sizes now, measured synchronously (two stat calls on cached inodes, a few microseconds): for the
 * output limit, which must not wait behind reads queued in libuv's thread pool, and for start-up.
 */
export function outputSizesNow(dir: string): OutputSizes {
  const measure = (name: string): { size: number; blocks: number } => statSync(join(dir, name), { throwIfNoEntry: false }) ?? none;
  return sizesOf(measure("stdout"), measure("stderr"));
}

/** Removes a job's output directory; a missing one is fine. */
export async function removeOutput(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
