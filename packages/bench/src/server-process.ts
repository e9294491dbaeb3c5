import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { open, readFile, readdir } from "node:fs/promises";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { HealthCheckResponse_ServingStatus, Health, JobService } from "@jobexec/proto";
import { cgroupRoot, removeCgroupTree, uniqueCgroupName } from "./cgroup.ts";
import { benchTransport, type ClientOptions } from "./client.ts";
import { BenchError } from "./error.ts";
import type { Tls } from "./tls.ts";

/** The `jobexec-server` entry point, next to the package's index in dist/. */
const serverMain = join(dirname(fileURLToPath(import.meta.resolve("@jobexec/server"))), "main.js");

/** Options of {@link startServerProcess}. */
export interface ServerOptions {
  /** A fresh directory for the data dir, the log and profiles. */
  dir: string;
  tls: Tls;
  /** Record a CPU profile of the server (node --cpu-prof), written into `dir` when it exits. */
  profile?: boolean;
  /** More `jobexec-server` flags, e.g. `--run-as server`. */
  args?: readonly string[];
  /** More Node flags for the server's process, e.g. `--max-old-space-size=64`. */
  nodeFlags?: readonly string[];
}

/** A `jobexec-server` child process on loopback. */
export interface ServerProcess {
  pid: number;
  url: string;
  dataDir: string;
  /** Name of the server's cgroup parent (unique per server). */
  cgroupParent: string;
  /** Milliseconds from the spawn to the server's "listening" log line (its start-up, without the readiness poll). */
  startupMs: number;
  /** The server's JSON log lines so far. */
  logLines(): Promise<Record<string, unknown>[]>;
  /** A new JobService client with its own HTTP/2 connection. */
  client(options?: ClientOptions): Client<typeof JobService>;
  /** A new transport (its own HTTP/2 connection) for other services. */
  transport(options?: ClientOptions): Transport;
  /** Where the job's stdout file lives, for observing it directly. */
  stdoutPath(id: string): string;
  /** The directory the server makes job cgroups in (from its "cgroups" log line). */
  jobsCgroup(): Promise<string>;
  /** SIGTERM, wait for a clean exit, check that the cgroup sub-tree is gone; returns the profile path, if any. */
  close(): Promise<string | undefined>;
}

// Server children not yet exited, so that an interrupted bench can still shut them down.
const live = new Set<ChildProcess>();

/** Sends SIGTERM to every server child still running and waits for them to exit (for an interrupted bench). */
export async function stopAllServers(): Promise<void> {
  await Promise.all(
    [...live].map(async (child) => {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    }),
  );
}

/** Asks the kernel for a free loopback port (the server takes it a moment later). */
async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const address = probe.address();
  probe.close();
  await once(probe, "close");
  if (typeof address !== "object" || address === null) throw new BenchError("server", "no port from the kernel");
  return address.port;
}

/** Starts `jobexec-server` as a child (its own pid, so its memory and CPU can be read) and waits until it serves. */
export async function startServerProcess(options: ServerOptions): Promise<ServerProcess> {
  const { dir, tls } = options;
  const port = await freePort();
  const dataDir = join(dir, "data");
  const cgroupParent = uniqueCgroupName();
  const logPath = join(dir, "server.log");
  const log = await open(logPath, "w");
  const nodeFlags = [...(options.profile === true ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : []), ...(options.nodeFlags ?? [])];
  const spawnedAt = Date.now();
  let child: ChildProcess;
  try {
    child = spawn(
      process.execPath,
      [
        ...nodeFlags,
        serverMain,
        `--listen=127.0.0.1:${port}`,
        `--cert=${tls.serverCertPath}`,
        `--key=${tls.serverKeyPath}`,
        `--client-ca=${tls.caPath}`,
        `--data-dir=${dataDir}`,
        `--cgroup-parent=${cgroupParent}`,
        ...(options.args ?? []),
      ],
      { stdio: ["ignore", log.fd, log.fd] },
    );
  } finally {
    await log.close();
  }
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  live.add(child);
  void exited.finally(() => live.delete(child));
  const pid = child.pid;
  if (pid === undefined) throw new BenchError("server", `cannot spawn ${serverMain}`);
  const url = `https://localhost:${port}`;
  const transport = (options: ClientOptions = {}) => benchTransport(url, tls, options);
  const logTail = async () => (await readFile(logPath, "utf8")).split("\n").slice(-20).join("\n");
  const logLines = async (): Promise<Record<string, unknown>[]> =>
    (await readFile(logPath, "utf8")).split("\n").flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });

  // Ready means the health service answers SERVING over mTLS; give a loaded machine a generous while.
  const health = createClient(Health, transport());
  const deadline = performance.now() + 60_000;
  let exitedEarly = false;
  void exited.then(() => (exitedEarly = true));
  for (;;) {
    if (exitedEarly) throw new BenchError("server", `jobexec-server exited at start:\n${await logTail()}`);
    try {
      const answer = await health.check({ service: "" }, { timeoutMs: 2000 });
      if (answer.status === HealthCheckResponse_ServingStatus.SERVING) break;
    } catch {
      // Not listening yet.
    }
    if (performance.now() > deadline) {
      child.kill("SIGKILL");
      throw new BenchError("server", `jobexec-server did not serve within 60 s:\n${await logTail()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  const listening = (await logLines()).find((l) => l.msg === "listening");
  const startupMs = typeof listening?.time === "string" ? Date.parse(listening.time) - spawnedAt : Number.NaN;
  return {
    pid,
    url,
    dataDir,
    cgroupParent,
    startupMs,
    logLines,
    client: (options) => createClient(JobService, transport(options)),
    transport,
    stdoutPath: (id) => join(dataDir, "jobs", id, "stdout"),
    async jobsCgroup() {
      const parent = (await logLines()).find((line) => line.msg === "cgroups")?.parent;
      if (typeof parent !== "string") throw new BenchError("server", "the server logged no job cgroup parent");
      return parent;
    },
    async close() {
      if (!exitedEarly) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
      const [code, signal] = await exited;
      clearTimeout(timer);
      const leftover = join(cgroupRoot, cgroupParent);
      if (existsSync(leftover)) {
        await removeCgroupTree(leftover);
        throw new BenchError("server", `jobexec-server left its cgroup sub-tree ${leftover} behind (removed by the bench)`);
      }
      if (code !== 0) {
        throw new BenchError("server", `jobexec-server ended with ${signal ?? `exit code ${code}`}:\n${await logTail()}`);
      }
      const profile = (await readdir(dir)).find((name) => name.endsWith(".cpuprofile"));
      return profile === undefined ? undefined : join(dir, profile);
    },
  };
}
