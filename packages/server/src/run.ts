import { JobError } from "@jobexec/core";
import { parseServeArgs, serveHelp } from "./settings/config.ts";
import { ServerError } from "./error.ts";
import { createLogger } from "./log.ts";
import { startServer } from "./server.ts";
import { readPem } from "./network/tls.ts";

/**
 * The `jobexec-server` command: `certs ...`, or serve until SIGTERM/SIGINT. Resolves to the exit code; failures are
 * one line on stderr (the server's own logs are JSON lines on stderr).
 */
export async function run(args: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  try {
    if (args[0] === "certs") {
      // Loaded on demand: the X.509 library takes a noticeable part of a second to load, which serving never needs.
      const { certsCommand } = await import("./certificates/certs-command.ts");
      process.stdout.write(await certsCommand(args.slice(1), env));
      return 0;
    }
    if (args[0] === "install-unit") {
      const { installUnitCommand } = await import("./install/install-unit-command.ts");
      process.stdout.write(await installUnitCommand(args.slice(1), env));
      return 0;
    }
    return await serve(args, env);
  } catch (err) {
    // Our errors and core's are sentences meant for the operator; anything else is a bug worth flagging as such.
    const message = err instanceof ServerError || err instanceof JobError ? err.message : `unexpected error: ${(err as Error).message}`;
    process.stderr.write(`jobexec-server: ${message}\n`);
    return err instanceof ServerError && err.code === "usage" ? 2 : 1;
  }
}

async function serve(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const settings = parseServeArgs(args, env);
  if (!settings) {
    process.stdout.write(serveHelp(env));
    return 0;
  }
  // One after the other, so that of several missing files the same one is always named first.
  const cert = await readPem(settings.certFile);
  const key = await readPem(settings.keyFile);
  const clientCa = await readPem(settings.clientCaFile);
  // Whoever reads our logs may go away (a closed pipe): the logs are lost then, but the server keeps serving.
  process.stderr.on("error", () => {});
  const log = createLogger(settings.logLevel);
  // Listened for before start-up: a signal during it (loading records, adopting jobs) then shuts the server down once
  // it is up, instead of killing it half-way (Node's default action) with nothing cleaned up.
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  const server = await startServer({
    host: settings.host,
    port: settings.port,
    tls: { cert, key, clientCa },
    tlsSources: { cert: settings.certFile, key: settings.keyFile, clientCa: settings.clientCaFile },
    dataDir: settings.dataDir,
    cgroupParent: settings.cgroupParent,
    defaultGraceMs: settings.defaultGraceMs,
    limits: settings.limits,
    log,
    stateFile: settings.stateFile,
    onShutdown: settings.onShutdown,
    maxOutputBytes: settings.maxOutputBytes,
    maxTimeoutMs: settings.maxTimeoutMs,
    retainMs: settings.retainMs,
    outputBudgetBytes: settings.outputBudgetBytes,
    outputBudgetPerUserBytes: settings.outputBudgetPerUserBytes,
    maxRecordsPerUser: settings.maxRecordsPerUser,
    maxRecordBytesPerUser: settings.maxRecordBytesPerUser,
    minFreeBytes: settings.minFreeBytes,
    accounts: {
      runAs: settings.runAs,
      ...(settings.uidRange === undefined ? {} : { uidRange: settings.uidRange }),
      ...(settings.userMapFile === undefined ? {} : { userMapFile: settings.userMapFile }),
    },
    maxJobs: { perUser: settings.maxJobsPerUser, admin: settings.maxJobsAdmin },
    queue: settings.queue,
    standby: settings.standby,
    usageSampleMs: settings.usageSampleMs,
    ...(settings.metricsListen ? { metrics: { ...settings.metricsListen, ownerLabels: settings.metricsOwnerLabels } } : {}),
    defaultIsolation: settings.defaultIsolation,
  });
  const signal = await signalled;
  log.info("signal received", { signal });
  // A second signal while jobs are being stopped is noted, not fatal: leaving now would orphan their processes.
  const again = (s: NodeJS.Signals) => log.warn("already shutting down", { signal: s });
  process.on("SIGTERM", again).on("SIGINT", again);
  await server.close();
  return 0;
}
