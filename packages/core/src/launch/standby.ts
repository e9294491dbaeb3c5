// One standby: a cgexec booted ahead of its job, with the job's id, output files and cgroup made, waiting in that
// cgroup (its limits not yet written) for the go that makes it that job, whose spec comes on its standard input.
import { type ChildProcess, spawn } from "node:child_process";
import { statSync } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { encodeSpec, type EntrySpec, standbyPath, stdinSocket } from "@jobexec/cgexec";
import { removeCgroup } from "../cgroup/cgroup-fs.ts";
import { newJobId } from "../job-id.ts";
import { createOutputFiles, removeOutput } from "../output/output-files.ts";
import type { OutputMode } from "../types.ts";
import { type Spawned, type Status, spawned, statusOf } from "./spawn-job.ts";

/** Where standbys are made: the same places a cold start uses. */
export interface StandbyPlace {
  /** `<dataDir>/jobs`, where the standby's output directory goes. */
  jobsDir: string;
  /** The jobs' cgroup parent, where its job cgroup is made ahead (no limits yet); undefined when unconfined. */
  parentDir: string | undefined;
}

/** What a standby serves: its output mode (stdout and stderr are fixed at spawn, and Node has no dup2 to merge them). */
export type StandbyKind = OutputMode;

/** The request descriptor of a standby, as spawned (its cgroup, ready, go); the spec and status go on standard input. */
const requestFd = 4;

// A standby has nothing to run in parallel: one V8 worker thread instead of one per core, and no inspector signal
// thread. Dropping privileges (setgroups, setgid, setuid) waits for every thread of the process to take each
// change (glibc's setxid broadcast), which on a busy host costs a scheduling turn per thread.
const nodeFlags = ["--v8-pool-size=1", "--disable-sigusr1"];

/**
 * A spawned standby. `ready` is set once it booted (moved into its job's cgroup, closed what it inherited, and
 * wrote its ready byte); `take()` hands it its job. Its process, output directory and cgroup are the job's from
 * then on. What Node allocated to start stays charged to the cgroup the standby was spawned in (the server's):
 * cgroup v2 never moves charges, so the job's memory.max, written at take, is not met by the standby's ~40 MiB.
 */
export class Standby {
  readonly id: string;
  readonly kind: StandbyKind;
  readonly outputMode: OutputMode;
  /** The output directory, `<jobsDir>/<id>`, with its stdout and stderr files. */
  readonly dir: string;
  /** The job cgroup made ahead, `<parent>/<id>`; undefined when unconfined. */
  readonly cgroupDir: string | undefined;
  readonly child: ChildProcess;
  /** Inode numbers of the output files it was spawned on. */
  readonly #files: readonly [number, number];
  readonly #request: Duplex;
  /** Its standard input: the spec goes out on it, the status comes back. */
  readonly #stdin: Duplex | null;
  readonly #status: Promise<Status>;
  /** Resolves once the process is gone (or could not be spawned). */
  readonly ended: Promise<void>;
  #ready = false;
  /** Resolves true once it booted, false if it ended before. */
  readonly #booting = Promise.withResolvers<boolean>();
  #taken = false;

  private constructor(id: string, kind: StandbyKind, dir: string, cgroupDir: string | undefined, child: ChildProcess, files: readonly [number, number]) {
    this.id = id;
    this.#files = files;
    this.kind = kind;
    this.outputMode = kind;
    this.dir = dir;
    this.cgroupDir = cgroupDir;
    this.child = child;
    this.#request = child.stdio[requestFd] as Duplex;
    // A standby gone before its request is written reads as EPIPE here; its exit says the rest.
    this.#request.on("error", () => undefined);
    this.#stdin = stdinSocket(child);
    this.ended = new Promise((resolve) => {
      child.once("exit", () => resolve());
      child.once("error", () => {
        if (child.pid === undefined) resolve();
      });
    });
    void this.ended.then(() => this.#booting.resolve(false));
    this.#status = statusOf(child, this.#stdin, "cgexec-standby");
  }

  /**
   * Makes the job's output files and cgroup (no limits) for a fresh id, then spawns the standby on them (stdout and
   * stderr are the output files, both stdout's in merged mode; it joins the cgroup once Node has started, told on
   * its request descriptor: neither the id nor the cgroup is on its command line, which every user may read).
   * `onReady` is called once it booted. A failure removes what it made and throws.
   */
  static async spawn(place: StandbyPlace, kind: StandbyKind, onReady: (standby: Standby) => void): Promise<Standby> {
    const outputMode = kind;
    const id = newJobId();
    const dir = join(place.jobsDir, id);
    const cgroupDir = place.parentDir === undefined ? undefined : join(place.parentDir, id);
    let files;
    try {
      files = await createOutputFiles(dir, outputMode);
      const inodes = [(await stat(join(dir, "stdout"))).ino, (await stat(join(dir, "stderr"))).ino] as const;
      if (cgroupDir !== undefined) await mkdir(cgroupDir);
      const child = spawn(process.execPath, [...nodeFlags, standbyPath, `--request-fd=${String(requestFd)}`], {
        stdio: ["pipe", files.stdoutFd, files.stderrFd, "ignore", "pipe"],
        detached: true,
        // Nothing of the server's environment acts on it; the job's own comes with its request.
        env: {},
        cwd: "/",
      });
      const standby = new Standby(id, kind, dir, cgroupDir, child, inodes);
      standby.#request.write(`${cgroupDir ?? ""}\n`);
      standby.#request.once("data", () => {
        standby.#ready = true;
        standby.#booting.resolve(true);
        onReady(standby);
      });
      return standby;
    } catch (err) {
      if (cgroupDir !== undefined) await removeCgroup(cgroupDir).catch(() => undefined);
      await removeOutput(dir);
      throw err;
    } finally {
      // The standby has its own copies.
      await files?.close();
    }
  }

  /** Whether it ever wrote its ready byte (it booted). */
  get booted(): boolean {
    return this.#ready;
  }

  /** Resolves true once it booted (at once if it has), false if it ended before. */
  whenBooted(): Promise<boolean> {
    return this.#booting.promise;
  }

  /** Not taken, alive, and booted (ready) or still booting. */
  get takeable(): boolean {
    return !this.#taken && this.alive;
  }

  /** Booted and waiting, and not yet taken. */
  get ready(): boolean {
    return this.#ready && !this.#taken && this.alive;
  }

  /**
   * Whether what was made for it is still there: its output files (the same inodes) and its cgroup. Another
   * manager started on the same data directory removes them as leftovers; its job would then write into the void.
   */
  intact(): boolean {
    try {
      const files = ["stdout", "stderr"].map((name) => statSync(join(this.dir, name)).ino);
      return files[0] === this.#files[0] && files[1] === this.#files[1] && (this.cgroupDir === undefined || statSync(this.cgroupDir).isDirectory());
    } catch {
      return false;
    }
  }

  get alive(): boolean {
    return this.child.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Hands the standby its job (whose limits must already be in `cgroupDir`, where it waits; `spec` without the
   * cgroup, which it joined already): the spec on its standard input, then the go. From here on its process is the
   * job's main process, and its status pipe reports whether the exec happened.
   */
  take(spec: Omit<EntrySpec, "cgroupDir">): Spawned {
    this.#taken = true;
    this.#stdin?.end(encodeSpec(spec));
    this.#request.end("\n");
    return spawned(this.child, this.#status);
  }

  /** The status line of a standby that ended before it was taken ("" if it wrote none). */
  get failure(): Promise<string> {
    return this.#status.then((s) => s.failure);
  }

  /** Kills an untaken standby, waits for its exit, and removes its output directory and cgroup. */
  async discard(): Promise<void> {
    this.#taken = true;
    this.child.kill("SIGKILL");
    await this.ended;
    if (this.cgroupDir !== undefined) await removeCgroup(this.cgroupDir);
    await removeOutput(this.dir);
  }
}
