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

/** Bytes in each output file now; 0 for a missing one. */
export async function outputSizes(dir: string): Promise<{ stdout: number; stderr: number }> {
  const size = (name: string): Promise<number> => stat(join(dir, name)).then((s) => s.size, () => 0);
  const [stdout, stderr] = await Promise.all([size("stdout"), size("stderr")]);
  return { stdout, stderr };
}

/**
 * Bytes in each output file now, measured synchronously (two stat calls on cached inodes, a few microseconds):
 * for the output limit, which must not wait behind reads queued in libuv's thread pool.
 */
export function outputSizesNow(dir: string): { stdout: number; stderr: number } {
  const size = (name: string): number => statSync(join(dir, name), { throwIfNoEntry: false })?.size ?? 0;
  return { stdout: size("stdout"), stderr: size("stderr") };
}

/** Removes a job's output directory; a missing one is fine. */
export async function removeOutput(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
