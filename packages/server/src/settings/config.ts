import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_UID_RANGE, formatUidRange, type IsolationSpec, MAX_WEIGHT, parseUidRange, type QueueOptions, type RunAs, type UidRange } from "@jobexec/core";
import { ISOLATION_WORDS, parseDefaultIsolation } from "./default-isolation.ts";
import { ServerError } from "../error.ts";
import { flagError } from "./flag-error.ts";
import { limitSettings, parseLimits, parseSize, type ServerLimits } from "./limits.ts";
import { LOG_LEVELS, type LogLevel } from "../log.ts";
import { defaultConfigDir, defaultDataDir } from "./paths.ts";

type Env = Record<string, string | undefined>;

/** Default port of jobexec-server. */
export const DEFAULT_PORT = 50051;

/** The settings of `jobexec-server` (serve), from flags, then environment, then defaults. */
export interface ServeSettings {
  host: string;
  port: number;
  certFile: string;
  keyFile: string;
  clientCaFile: string;
  dataDir: string;
  cgroupParent: string;
  defaultGraceMs: number;
  logLevel: LogLevel;
  /** Where job records are kept (default `<dataDir>/state.db`); ":memory:" keeps them in memory only. */
  stateFile: string;
  /** What a graceful shutdown does with running jobs. */
  onShutdown: "stop" | "keep";
  /** Default and maximum output bytes of a job. */
  maxOutputBytes: number;
  /** Maximum (and default) timeout of a job; undefined for none. */
  maxTimeoutMs: number | undefined;
  /** How long finished jobs are kept. */
  retainMs: number;
  /** Most disk the output of all finished jobs takes; the largest user's oldest go first. */
  outputBudgetBytes: number;
  /** Most disk the output of one user's finished jobs takes (that user's oldest go first); undefined: core's default. */
  outputBudgetPerUserBytes: number | undefined;
  /** Most finished job records one user keeps; that user's oldest go first. */
  maxRecordsPerUser: number;
  /** Most bytes one user's finished job records take; that user's oldest go first. */
  maxRecordBytesPerUser: number;
  /** StartJob is refused while the data directory's filesystem has less free. */
  minFreeBytes: number;
  /** Whose uid jobs run as. */
  runAs: RunAs;
  /** Dynamic accounts' uids (run-as dynamic only). */
  uidRange?: UidRange;
  /** The user map (run-as mapped only). */
  userMapFile?: string;
  /** Running jobs per identity, for users (--max-running-per-user, alias --max-jobs-per-user) and for admins. */
  maxJobsPerUser: number;
  maxJobsAdmin: number;
  /** The queue's capacities and bounds. */
  queue: Omit<QueueOptions, "names">;
  /** Standbys kept ready per output mode in use (0: none, every start is cold). */
  standby: number;
  /** How often running jobs' CPU and memory are sampled for their usage timelines (0: never). */
  usageSampleMs: number;
  /** Isolation for the fields a StartJob request leaves unset. */
  defaultIsolation: IsolationSpec;
  /** Connection, stream and request limits (limits.ts). */
  limits: ServerLimits;
  /** Where to serve Prometheus metrics over plain HTTP; absent: not served. */
  metricsListen?: { host: string; port: number };
  /** Label job metrics with their owners. */
  metricsOwnerLabels: boolean;
}

/** Default of --max-jobs-per-user. */
export const DEFAULT_MAX_JOBS_PER_USER = 64;
/** Default of --max-jobs-admin. */
export const DEFAULT_MAX_JOBS_ADMIN = 1024;
/** Default of --standby. */
export const DEFAULT_STANDBY = 2;
/** The most standbys --standby accepts (core's bound). */
const MAX_STANDBY = 32;
const RUN_AS: readonly RunAs[] = ["dynamic", "mapped", "server"];

interface Setting {
  flag: string;
  env: string;
  value: string;
  describe: string;
  fallback: (env: Env) => string;
}

const settings = {
  listen: { flag: "listen", env: "JOBEXEC_LISTEN", value: "HOST:PORT", describe: "address to listen on (port 0: any free port)", fallback: () => `127.0.0.1:${DEFAULT_PORT}` },
  cert: { flag: "cert", env: "JOBEXEC_TLS_CERT", value: "FILE", describe: "server certificate, PEM", fallback: (env) => join(defaultConfigDir(env), "server.pem") },
  key: { flag: "key", env: "JOBEXEC_TLS_KEY", value: "FILE", describe: "server private key, PEM", fallback: (env) => join(defaultConfigDir(env), "server.key") },
  "client-ca": { flag: "client-ca", env: "JOBEXEC_TLS_CLIENT_CA", value: "FILE", describe: "CA that client certificates must chain to, PEM", fallback: (env) => join(defaultConfigDir(env), "ca.pem") },
  "data-dir": { flag: "data-dir", env: "JOBEXEC_DATA_DIR", value: "DIR", describe: "job records and output", fallback: (env) => defaultDataDir(env) },
  "cgroup-parent": { flag: "cgroup-parent", env: "JOBEXEC_CGROUP_PARENT", value: "NAME", describe: "cgroup under which job cgroups are made; one per server (a second server on it refuses to start)", fallback: () => "jobexec" },
  grace: { flag: "grace", env: "JOBEXEC_GRACE", value: "DURATION", describe: "default stop grace period (e.g. 5s, 500ms, 1m)", fallback: () => "5s" },
  "log-level": { flag: "log-level", env: "JOBEXEC_LOG_LEVEL", value: "LEVEL", describe: `${LOG_LEVELS.join(", ")}`, fallback: () => "info" },
  "state-file": { flag: "state-file", env: "JOBEXEC_STATE_FILE", value: "FILE", describe: "job records (SQLite); :memory: keeps none across restarts", fallback: () => "<data dir>/state.db" },
  "on-shutdown": { flag: "on-shutdown", env: "JOBEXEC_ON_SHUTDOWN", value: "stop|keep", describe: "on SIGTERM/SIGINT, stop running jobs, or keep them running for the next server", fallback: () => "stop" },
  "max-output": { flag: "max-output", env: "JOBEXEC_MAX_OUTPUT", value: "SIZE", describe: "default and maximum output of a job, stdout and stderr together", fallback: () => "1G" },
  "max-timeout": { flag: "max-timeout", env: "JOBEXEC_MAX_TIMEOUT", value: "DURATION", describe: "maximum run time of a job, also the timeout of jobs that set none", fallback: () => "none" },
  retain: { flag: "retain", env: "JOBEXEC_RETAIN", value: "DURATION", describe: "finished jobs (record and output) are removed this long after they ended", fallback: () => "7d" },
  "output-budget": { flag: "output-budget", env: "JOBEXEC_OUTPUT_BUDGET", value: "SIZE", describe: "finished jobs are removed while their output takes more disk than this, the largest user's oldest first", fallback: () => "10G" },
  "output-budget-per-user": {
    flag: "output-budget-per-user",
    env: "JOBEXEC_OUTPUT_BUDGET_PER_USER",
    value: "SIZE",
    describe: "a user's finished jobs are removed, that user's oldest first, while their output takes more disk than this",
    fallback: () => "2G, or --max-output if larger, at most --output-budget",
  },
  "max-records-per-user": { flag: "max-records-per-user", env: "JOBEXEC_MAX_RECORDS_PER_USER", value: "N", describe: "finished jobs one user keeps; that user's oldest go first", fallback: () => "10000" },
  "max-record-bytes-per-user": {
    flag: "max-record-bytes-per-user",
    env: "JOBEXEC_MAX_RECORD_BYTES_PER_USER",
    value: "SIZE",
    describe: "bytes of one user's finished job records (mostly command lines); that user's oldest go first",
    fallback: () => "64M",
  },
  "min-free": { flag: "min-free", env: "JOBEXEC_MIN_FREE", value: "SIZE", describe: "StartJob is refused while the data directory's disk has less free", fallback: () => "256M" },
  "run-as": { flag: "run-as", env: "JOBEXEC_RUN_AS", value: "MODE", describe: "whose uid jobs run as: dynamic (a uid per identity), mapped (--user-map), server (ours)", fallback: () => "dynamic" },
  "uid-range": { flag: "uid-range", env: "JOBEXEC_UID_RANGE", value: "FIRST-LAST", describe: "uids (and gids) of dynamic accounts", fallback: () => formatUidRange(DEFAULT_UID_RANGE) },
  "user-map": { flag: "user-map", env: "JOBEXEC_USER_MAP", value: "FILE", describe: "identity -> local account map (lines IDENTITY: ACCOUNT) for --run-as mapped", fallback: () => "" },
  "max-running-per-user": { flag: "max-running-per-user", env: "JOBEXEC_MAX_RUNNING_PER_USER", value: "N", describe: "running jobs one user may have at once; more wait in the queue", fallback: () => String(DEFAULT_MAX_JOBS_PER_USER) },
  "max-jobs-per-user": { flag: "max-jobs-per-user", env: "JOBEXEC_MAX_JOBS_PER_USER", value: "N", describe: "the old name of --max-running-per-user", fallback: () => String(DEFAULT_MAX_JOBS_PER_USER) },
  "max-jobs-admin": { flag: "max-jobs-admin", env: "JOBEXEC_MAX_JOBS_ADMIN", value: "N", describe: "running jobs one admin may have at once", fallback: () => String(DEFAULT_MAX_JOBS_ADMIN) },
  "max-running": { flag: "max-running", env: "JOBEXEC_MAX_RUNNING", value: "N", describe: "running jobs of all users at once; more wait in the queue", fallback: () => "unlimited" },
  "memory-capacity": { flag: "memory-capacity", env: "JOBEXEC_MEMORY_CAPACITY", value: "SIZE", describe: "memory that running jobs' memory limits may add up to (jobs without one reserve none)", fallback: () => "the host's memory" },
  "cpu-capacity": { flag: "cpu-capacity", env: "JOBEXEC_CPU_CAPACITY", value: "CPUS", describe: "CPUs that running jobs' CPU limits may add up to (jobs without one reserve none)", fallback: () => "the online CPUs" },
  "max-queued-per-user": { flag: "max-queued-per-user", env: "JOBEXEC_MAX_QUEUED_PER_USER", value: "N", describe: "queued jobs one user may have", fallback: () => "10000" },
  "max-queued": { flag: "max-queued", env: "JOBEXEC_MAX_QUEUED", value: "N", describe: "queued jobs of all users", fallback: () => "100000" },
  "starvation-bound": { flag: "starvation-bound", env: "JOBEXEC_STARVATION_BOUND", value: "DURATION", describe: "a queued job held up by the host's capacity this long holds back starts that would delay it", fallback: () => "5m" },
  standby: { flag: "standby", env: "JOBEXEC_STANDBY", value: "N", describe: `cgexec processes kept started ahead per output mode in use, 0-${MAX_STANDBY} (0: none)`, fallback: () => String(DEFAULT_STANDBY) },
  "usage-sample-interval": { flag: "usage-sample-interval", env: "JOBEXEC_USAGE_SAMPLE_INTERVAL", value: "DURATION", describe: "how often every running job's CPU and memory are sampled for its usage timeline (0: never; at least 100ms)", fallback: () => "5s" },
  "metrics-listen": { flag: "metrics-listen", env: "JOBEXEC_METRICS_LISTEN", value: "HOST:PORT", describe: "serve Prometheus metrics at http://HOST:PORT/metrics, plain HTTP (e.g. 127.0.0.1:9464)", fallback: () => "off" },
  "default-isolation": { flag: "default-isolation", env: "JOBEXEC_DEFAULT_ISOLATION", value: "LIST", describe: `isolation of jobs whose request leaves a field unset: ${ISOLATION_WORDS}`, fallback: () => "none" },
} satisfies Record<string, Setting>;

// A repeatable flag: one identity's weight each; its variable lists them, comma-separated.
const queueWeight = {
  flag: "queue-weight",
  env: "JOBEXEC_QUEUE_WEIGHTS",
  value: "IDENTITY=N",
  describe: `fair-share weight of an identity, 1-${String(MAX_WEIGHT)} (repeatable; in the variable, comma-separated): the next queued job goes to whoever runs the fewest jobs per unit of weight`,
};

// A flag without a value: present (or its variable set to 1/true) means on.
const metricsOwnerLabels = { flag: "metrics-owner-labels", env: "JOBEXEC_METRICS_OWNER_LABELS", describe: "label job metrics with their owners (one series per user)" };

type Name = keyof typeof settings;

// The limits' flags (limits.ts), listed after the others.
const limitFlags: Setting[] = limitSettings.map((l) => ({
  flag: l.flag,
  env: l.env,
  value: l.kind === "duration" ? "DURATION" : l.kind === "size" ? "SIZE" : "N",
  describe: l.describe,
  fallback: () => l.text,
}));

/** The help text of `jobexec-server`. */
export function serveHelp(env: Env = process.env): string {
  const all: Setting[] = [...Object.values(settings), { ...queueWeight, fallback: () => "1 each" }, ...limitFlags];
  // The description column starts two spaces after the longest flag with its value.
  const width = Math.max(...all.map((s) => `  --${s.flag} ${s.value}`.length)) + 2;
  const rows = all.map((s) => {
    const left = `  --${s.flag} ${s.value}`;
    return `${left.padEnd(width)}${s.describe}\n${"".padEnd(width)}env ${s.env}; default ${s.fallback(env) || "none"}`;
  });
  return [
    "Usage: jobexec-server [options]            serve the jobexec JobService (gRPC, gRPC-Web, Connect) over mTLS",
    "       jobexec-server certs init [options] create a CA, a server and an admin client certificate",
    "       jobexec-server certs issue --user NAME [options]",
    "                                           issue a client certificate",
    "       jobexec-server install-unit [options]",
    "                                           write the systemd unit (see install-unit --help)",
    "",
    "Options (flags win over environment variables):",
    ...rows,
    `${`  --${metricsOwnerLabels.flag}`.padEnd(width)}${metricsOwnerLabels.describe}\n${"".padEnd(width)}env ${metricsOwnerLabels.env}=1; default off`,
    `${"  -h, --help".padEnd(width)}show this help`,
    "",
    "Certificates default to the directory $JOBEXEC_CONFIG_DIR, else ${XDG_CONFIG_HOME:-~/.config}/jobexec",
    `(here ${defaultConfigDir(env)}). Run "jobexec-server certs --help" for the certs commands.`,
    "",
  ].join("\n");
}

/** Parses serve flags; `undefined` means --help was asked for. Throws ServerError("usage") on a bad value. */
export function parseServeArgs(args: string[], env: Env = process.env): ServeSettings | undefined {
  let parsed;
  const options = {
    ...Object.fromEntries([...Object.keys(settings), ...limitSettings.map((l) => l.flag)].map((name) => [name, { type: "string" as const }])),
    [queueWeight.flag]: { type: "string" as const, multiple: true },
    [metricsOwnerLabels.flag]: { type: "boolean" as const },
    help: { type: "boolean" as const, short: "h" },
  };
  try {
    parsed = parseArgs({ args, strict: true, allowPositionals: false, options });
  } catch (cause) {
    throw flagError(cause, Object.keys(options), "jobexec-server --help");
  }
  if (parsed.values.help) return undefined;
  const given = (name: Name): string | undefined => {
    const flag = (parsed.values as Record<string, unknown>)[name];
    if (typeof flag === "string") return flag;
    return env[settings[name].env] || undefined;
  };
  const value = (name: Name): string => given(name) ?? (settings[name] as Setting).fallback(env);
  const { host, port } = parseListen(value("listen"));
  const logLevel = value("log-level");
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new ServerError("usage", `log level ${JSON.stringify(logLevel)} is not one of ${LOG_LEVELS.join(", ")}`);
  const cgroupParent = value("cgroup-parent");
  if (cgroupParent === "" || cgroupParent.split("/").some((part) => part === "" || part === "." || part === "..")) {
    throw new ServerError("usage", `cgroup parent ${JSON.stringify(cgroupParent)} must be a relative cgroup path without . or .. parts`);
  }
  const runAs = value("run-as");
  if (!(RUN_AS as readonly string[]).includes(runAs)) throw new ServerError("usage", `--run-as ${JSON.stringify(runAs)} is not one of ${RUN_AS.join(", ")}`);
  const userMapFile = given("user-map");
  if (runAs === "mapped" && userMapFile === undefined) throw new ServerError("usage", "--run-as mapped needs --user-map FILE (lines IDENTITY: ACCOUNT)");
  if (runAs !== "mapped" && userMapFile !== undefined) throw new ServerError("usage", `--user-map is only read with --run-as mapped, not ${runAs}`);
  if (runAs !== "dynamic" && given("uid-range") !== undefined) throw new ServerError("usage", `--uid-range only applies to --run-as dynamic, not ${runAs}`);
  let uidRange: UidRange | undefined;
  try {
    if (runAs === "dynamic") uidRange = parseUidRange(value("uid-range"));
  } catch (cause) {
    throw new ServerError("usage", `--uid-range: ${(cause as Error).message}`, { cause });
  }
  const onShutdown = value("on-shutdown");
  if (onShutdown !== "stop" && onShutdown !== "keep") throw new ServerError("usage", `--on-shutdown ${JSON.stringify(onShutdown)} is not stop or keep`);
  const dataDir = value("data-dir");
  const maxTimeout = value("max-timeout");
  const metrics = value("metrics-listen");
  const perUserBudget = given("output-budget-per-user");
  const ownerLabels = parsed.values[metricsOwnerLabels.flag] === true || /^(1|true|yes|on)$/i.test(env[metricsOwnerLabels.env] ?? "");
  const settingsOut: ServeSettings = {
    host,
    port,
    runAs: runAs as RunAs,
    ...(uidRange === undefined ? {} : { uidRange }),
    ...(userMapFile === undefined ? {} : { userMapFile }),
    maxJobsPerUser: maxRunningPerUser(given("max-running-per-user"), given("max-jobs-per-user")),
    queue: {
      ...(value("max-running") === "unlimited" ? {} : { maxRunning: positiveCount("max-running", value("max-running")) }),
      ...(given("memory-capacity") === undefined ? {} : { memoryCapacityBytes: positiveSize(value("memory-capacity"), "--memory-capacity") }),
      ...(given("cpu-capacity") === undefined ? {} : { cpuCapacity: cpuCount(value("cpu-capacity")) }),
      maxQueuedPerUser: positiveCount("max-queued-per-user", value("max-queued-per-user")),
      maxQueued: positiveCount("max-queued", value("max-queued")),
      starvationMs: parseDuration(value("starvation-bound")),
      ...queueWeights((parsed.values as Record<string, unknown>)[queueWeight.flag] as string[] | undefined, env[queueWeight.env]),
    },
    maxJobsAdmin: positiveCount("max-jobs-admin", value("max-jobs-admin")),
    standby: standbyCount(value("standby")),
    usageSampleMs: sampleInterval(value("usage-sample-interval")),
    defaultIsolation: parseDefaultIsolation(value("default-isolation")),
    certFile: value("cert"),
    keyFile: value("key"),
    clientCaFile: value("client-ca"),
    dataDir,
    cgroupParent,
    defaultGraceMs: parseDuration(value("grace")),
    logLevel: logLevel as LogLevel,
    stateFile: given("state-file") ?? join(dataDir, "state.db"),
    onShutdown,
    maxOutputBytes: positiveSize(value("max-output"), "--max-output"),
    maxTimeoutMs: maxTimeout === "none" ? undefined : positiveDuration(maxTimeout, "--max-timeout"),
    retainMs: parseDuration(value("retain")),
    outputBudgetBytes: positiveSize(value("output-budget"), "--output-budget"),
    outputBudgetPerUserBytes: perUserBudget === undefined ? undefined : positiveSize(perUserBudget, "--output-budget-per-user"),
    maxRecordsPerUser: positiveCount("max-records-per-user", value("max-records-per-user")),
    maxRecordBytesPerUser: positiveSize(value("max-record-bytes-per-user"), "--max-record-bytes-per-user"),
    minFreeBytes: parseSize(value("min-free"), "--min-free"),
    limits: parseLimits((l) => {
      const flag = (parsed.values as Record<string, unknown>)[l.flag];
      return typeof flag === "string" ? flag : env[l.env] || undefined;
    }, parseDuration),
    ...(metrics === "off" ? {} : { metricsListen: parseListen(metrics, "metrics address") }),
    metricsOwnerLabels: ownerLabels,
  };
  if (settingsOut.outputBudgetBytes < settingsOut.maxOutputBytes) {
    throw new ServerError("usage", "--output-budget must be at least --max-output: one job's output would be removed the moment it ends");
  }
  const { outputBudgetPerUserBytes: perUser } = settingsOut;
  if (perUser !== undefined && (perUser < settingsOut.maxOutputBytes || perUser > settingsOut.outputBudgetBytes)) {
    throw new ServerError("usage", "--output-budget-per-user must be at least --max-output (one job's output would be removed the moment it ends) and at most --output-budget");
  }
  return settingsOut;
}

function sampleInterval(text: string): number {
  const ms = parseDuration(text);
  if (ms !== 0 && ms < 100) throw new ServerError("usage", `--usage-sample-interval ${JSON.stringify(text)} is below 100ms (0 turns sampling off)`);
  return ms;
}

function positiveSize(text: string, what: string): number {
  const bytes = parseSize(text, what);
  if (bytes <= 0) throw new ServerError("usage", `${what} must be more than 0 bytes`);
  return bytes;
}

function positiveDuration(text: string, what: string): number {
  const ms = parseDuration(text);
  if (ms <= 0) throw new ServerError("usage", `${what} must be longer than 0`);
  return ms;
}

function positiveCount(flag: string, text: string): number {
  if (!/^\d{1,9}$/.test(text) || Number(text) === 0) throw new ServerError("usage", `--${flag} ${JSON.stringify(text)} is not a whole number above 0`);
  return Number(text);
}

/** --max-running-per-user, or its old name --max-jobs-per-user; both given must agree. */
function maxRunningPerUser(current: string | undefined, old: string | undefined): number {
  if (current !== undefined && old !== undefined && current !== old) {
    throw new ServerError("usage", `--max-running-per-user ${JSON.stringify(current)} and its old name --max-jobs-per-user ${JSON.stringify(old)} disagree: give one`);
  }
  const text = current ?? old;
  return text === undefined ? DEFAULT_MAX_JOBS_PER_USER : positiveCount(current === undefined ? "max-jobs-per-user" : "max-running-per-user", text);
}

/**
 * --queue-weight IDENTITY=N (repeatable), else $JOBEXEC_QUEUE_WEIGHTS (IDENTITY=N,...): `{ weights }`, or nothing when
 * none is given (every identity weighs 1).
 */
function queueWeights(flags: string[] | undefined, variable: string | undefined): { weights?: Record<string, number> } {
  const given = flags ?? (variable ? variable.split(",").map((item) => item.trim()) : []);
  const weights = new Map<string, number>();
  for (const item of given) {
    const at = item.lastIndexOf("=");
    const [identity, text] = [item.slice(0, at), item.slice(at + 1)];
    if (at <= 0) throw new ServerError("usage", `--${queueWeight.flag} ${JSON.stringify(item)} is not IDENTITY=N (e.g. alice=2)`);
    if (!/^\d{1,4}$/.test(text) || Number(text) < 1 || Number(text) > MAX_WEIGHT) {
      throw new ServerError("usage", `--${queueWeight.flag} ${JSON.stringify(item)}: the weight is not a whole number from 1 to ${String(MAX_WEIGHT)}`);
    }
    if (weights.has(identity)) throw new ServerError("usage", `--${queueWeight.flag} gives ${JSON.stringify(identity)} a weight twice: give one`);
    weights.set(identity, Number(text));
  }
  return weights.size === 0 ? {} : { weights: Object.fromEntries(weights) };
}

function cpuCount(text: string): number {
  const cpus = Number(text);
  if (!/^\d{1,6}(\.\d{1,3})?$/.test(text) || !(cpus > 0)) throw new ServerError("usage", `--cpu-capacity ${JSON.stringify(text)} is not a number of CPUs above 0 (e.g. 4 or 1.5)`);
  return cpus;
}

function standbyCount(text: string): number {
  if (!/^\d{1,9}$/.test(text) || Number(text) > MAX_STANDBY) throw new ServerError("usage", `--standby ${JSON.stringify(text)} is not a whole number from 0 to ${MAX_STANDBY}`);
  return Number(text);
}

/** Parses "HOST:PORT", "[IPV6]:PORT" or ":PORT" (all interfaces). */
export function parseListen(listen: string, what = "listen address"): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen);
  const port = Number(match?.[3]);
  if (!match || port > 65535) throw new ServerError("usage", `${what} ${JSON.stringify(listen)} is not HOST:PORT, [IPV6]:PORT or :PORT`);
  const host = match[1] ?? match[2] ?? "";
  return { host: host === "" ? "::" : host, port };
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a duration such as "5s", "250ms", "1m", "12h", "7d" or a bare number of seconds, to milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new ServerError("usage", `duration ${JSON.stringify(text)} is not a number with an optional unit (ms, s, m, h, d)`);
  return Math.round(Number(match[1]) * (durationUnits[match[2] ?? "s"] ?? 1000));
}
