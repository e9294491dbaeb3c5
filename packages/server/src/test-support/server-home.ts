// Test support: successive jobexec-server child processes on one home (certificates, data directory, cgroup parent)
// that outlives each of them, so tests can kill one (SIGTERM, or SIGKILL as a crash) and start the next on the same
// state. Built on test-process.ts. Not part of the build.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, JobService } from "@jobexec/proto";
import { writeCredentials } from "../certificates/cert-files.ts";
import type { Credentials } from "../certificates/certificates.ts";
import { testCgroupParent } from "./cgroup-parent.ts";
import { createPki, type Pki } from "./pki.ts";
import { launchServer, listening, waitFor, type ServerChild } from "./test-process.ts";

/** A server child of a home, with clients and ways to wait for its log. */
export interface HomeServer extends ServerChild {
  /** The URL it listens on, once it logged "listening" (fails at once if it exited first). */
  url(): Promise<string>;
  jobs(who: Credentials): Promise<Client<typeof JobService>>;
  health(who: Credentials): Promise<Client<typeof Health>>;
  /** Waits (up to 30 s) for a log line matching `match`; fails at once if the server exits first. */
  waitForLog(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** Sends `signal` (unless it already exited) and resolves with the exit code. */
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

/** Where successive servers of one test live: certificates, data directory, cgroup parent, all shared. */
export class ServerHome {
  readonly dir: string;
  readonly pki: Pki;
  readonly dataDir: string;
  readonly cgroupParent = testCgroupParent();
  readonly #servers: HomeServer[] = [];

  private constructor(dir: string, pki: Pki, dataDir: string) {
    this.dir = dir;
    this.pki = pki;
    this.dataDir = dataDir;
  }

  /** A fresh home (its data directory at `dataDir` when given, e.g. on a test's tmpfs). */
  static async create(pki?: Pki, dataDir?: string): Promise<ServerHome> {
    const dir = await mkdtemp(join(tmpdir(), "jobexec-server-home-"));
    // The data directory inside must be reachable by jobs' dynamic accounts (the keys stay 0600).
    await chmod(dir, 0o711);
    const home = new ServerHome(dir, pki ?? (await createPki()), dataDir ?? join(dir, "data"));
    await writeCredentials(dir, "server", home.pki.server);
    await writeCredentials(dir, "ca", home.pki.ca);
    return home;
  }

  /** Starts `jobexec-server` on this home, with `args` after the home's own flags and `nodeArgs` for its Node. */
  start(args: string[] = [], nodeArgs: string[] = []): HomeServer {
    const child = launchServer(
      [
        "--listen=127.0.0.1:0",
        `--cert=${join(this.dir, "server.pem")}`,
        `--key=${join(this.dir, "server.key")}`,
        `--client-ca=${join(this.dir, "ca.pem")}`,
        `--data-dir=${this.dataDir}`,
        `--cgroup-parent=${this.cgroupParent}`,
        "--grace=1s",
        ...args,
      ],
      {},
      { nodeArgs },
    );
    let exited = false;
    void child.exit.then(() => (exited = true));
    const url = async (): Promise<string> => (await listening(child)).url;
    const transport = async (who: Credentials) =>
      createGrpcTransport({ baseUrl: await url(), nodeOptions: { ca: this.pki.ca.cert, cert: who.cert, key: who.key } });
    const server: HomeServer = {
      ...child,
      url,
      jobs: async (who) => createClient(JobService, await transport(who)),
      health: async (who) => createClient(Health, await transport(who)),
      waitForLog: (match) =>
        waitFor(() => {
          const found = child.lines.find(match);
          if (found === undefined && exited) assert.fail(`the server exited before logging that:\n${child.stderr.join("\n")}`);
          return found;
        }, 30_000),
      async kill(signal) {
        if (!exited) child.proc.kill(signal);
        return child.exit;
      },
    };
    this.#servers.push(server);
    return server;
  }

  /**
   * Stops every server still running (SIGTERM), then, when jobs are left (a server was killed, or kept its jobs
   * running), one more server adopts and stops them; removes the home's directory and checks that the cgroup
   * sub-tree is gone.
   */
  async close(): Promise<void> {
    await Promise.all(this.#servers.map((s) => s.kill("SIGTERM")));
    const parent = this.#servers.map((s) => s.lines.find((l) => l.msg === "cgroups")?.parent).find((p) => typeof p === "string");
    if (typeof parent === "string" && existsSync(parent)) {
      const last = this.start(["--on-shutdown=stop"]);
      await last.url().catch(() => undefined);
      await last.kill("SIGTERM");
    }
    await rm(this.dir, { recursive: true, force: true });
    if (typeof parent === "string") assert.equal(existsSync(parent), false, `the servers left ${parent} behind`);
  }
}
