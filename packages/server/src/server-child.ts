// Test support: `jobexec-server` as a child process on a data directory and cgroup parent that outlive it, so
// tests can kill it (SIGTERM, or SIGKILL as a crash) and start the next one on the same state. Not part of the build.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, JobService } from "@jobexec/proto";
import { writeCredentials } from "./cert-files.ts";
import type { Credentials } from "./certificates.ts";
import { createPki, testCgroupParent, type Pki } from "./test-harness.ts";

const main = join(import.meta.dirname, "main.ts");

/** One running (or ended) server process. */
export interface ServerChild {
  proc: ChildProcess;
  /** Its JSON log lines so far, and every stderr line (start-up failures are plain sentences). */
  logs: Record<string, unknown>[];
  stderr: string[];
  /** Resolves with the exit code (null when a signal ended it). */
  exit: Promise<number | null>;
  /** The URL it listens on, once it logged "listening". */
  url(): Promise<string>;
  jobs(who: Credentials): Promise<Client<typeof JobService>>;
  health(who: Credentials): Promise<Client<typeof Health>>;
  /** Waits (up to 30 s) for a log line matching `match`. */
  waitForLog(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** Sends `signal` and waits for the exit code. */
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

/** Where successive servers of one test live: certificates, data directory, cgroup parent, all shared. */
export class ServerHome {
  readonly dir: string;
  readonly pki: Pki;
  readonly dataDir: string;
  readonly cgroupParent = testCgroupParent();
  readonly #children: ServerChild[] = [];

  private constructor(dir: string, pki: Pki, dataDir: string) {
    this.dir = dir;
    this.pki = pki;
    this.dataDir = dataDir;
  }

  /** A fresh home (its data directory in `dataDir` when given, e.g. on a test's tmpfs). */
  static async create(pki?: Pki, dataDir?: string): Promise<ServerHome> {
    const dir = await mkdtemp(join(tmpdir(), "jobexec-server-child-"));
    const home = new ServerHome(dir, pki ?? (await createPki()), dataDir ?? join(dir, "data"));
    await writeCredentials(dir, "server", home.pki.server);
    await writeCredentials(dir, "ca", home.pki.ca);
    return home;
  }

  /** Starts `jobexec-server` on this home, with `args` after the home's own flags. */
  start(args: string[] = []): ServerChild {
    const flags = [
      "--listen=127.0.0.1:0",
      `--cert=${join(this.dir, "server.pem")}`,
      `--key=${join(this.dir, "server.key")}`,
      `--client-ca=${join(this.dir, "ca.pem")}`,
      `--data-dir=${this.dataDir}`,
      `--cgroup-parent=${this.cgroupParent}`,
      "--grace=1s",
      ...args,
    ];
    const proc = spawn(process.execPath, [main, ...flags], { stdio: ["ignore", "ignore", "pipe"] });
    const logs: Record<string, unknown>[] = [];
    const stderr: string[] = [];
    const waiters = new Set<() => void>();
    createInterface({ input: proc.stderr as NodeJS.ReadableStream }).on("line", (line) => {
      stderr.push(line);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // a plain sentence
      }
      for (const wake of waiters) wake();
    });
    const exit = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
    let ended = false;
    void exit.then(() => {
      ended = true;
      for (const wake of waiters) wake();
    });
    const waitForLog = async (match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const found = logs.find(match);
        if (found) return found;
        if (ended) assert.fail(`the server exited before logging that:\n${stderr.join("\n")}`);
        if (Date.now() > deadline) assert.fail(`timed out waiting for a log line:\n${stderr.join("\n")}`);
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            waiters.delete(wake);
            resolve();
          };
          waiters.add(wake);
          setTimeout(wake, 200).unref();
        });
      }
    };
    const url = async (): Promise<string> => String((await waitForLog((l) => l.msg === "listening")).url);
    const transport = async (who: Credentials) =>
      createGrpcTransport({ baseUrl: await url(), nodeOptions: { ca: this.pki.ca.cert, cert: who.cert, key: who.key } });
    const child: ServerChild = {
      proc,
      logs,
      stderr,
      exit,
      url,
      jobs: async (who) => createClient(JobService, await transport(who)),
      health: async (who) => createClient(Health, await transport(who)),
      waitForLog,
      async kill(signal) {
        if (!ended) proc.kill(signal);
        return exit;
      },
    };
    this.#children.push(child);
    return child;
  }

  /**
   * Stops every server still running (SIGTERM), then, when jobs are left (a server was killed, or kept its jobs
   * running), one more server adopts and stops them; removes the home's directory.
   */
  async close(): Promise<void> {
    await Promise.all(this.#children.map((c) => c.kill("SIGTERM")));
    const parent = this.#children.map((c) => c.logs.find((l) => l.msg === "cgroups")?.parent).find((p) => typeof p === "string");
    if (typeof parent === "string" && existsSync(parent)) {
      const last = this.start(["--on-shutdown=stop"]);
      await last.url().catch(() => undefined);
      await last.kill("SIGTERM");
    }
    await rm(this.dir, { recursive: true, force: true });
    if (typeof parent === "string") assert.equal(existsSync(parent), false, `the servers left ${parent} behind`);
  }
}
