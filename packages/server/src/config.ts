import { join } from "node:path";
import { parseArgs } from "node:util";
import { ServerError } from "./error.ts";
import { LOG_LEVELS, type LogLevel } from "./log.ts";
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
  /** Where to serve Prometheus metrics over plain HTTP; absent: not served. */
  metricsListen?: { host: string; port: number };
  /** Label job metrics with their owners. */
  metricsOwnerLabels: boolean;
}

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
  "cgroup-parent": { flag: "cgroup-parent", env: "JOBEXEC_CGROUP_PARENT", value: "NAME", describe: "cgroup under which job cgroups are made", fallback: () => "jobexec" },
  grace: { flag: "grace", env: "JOBEXEC_GRACE", value: "DURATION", describe: "default stop grace period (e.g. 5s, 500ms, 1m)", fallback: () => "5s" },
  "log-level": { flag: "log-level", env: "JOBEXEC_LOG_LEVEL", value: "LEVEL", describe: `${LOG_LEVELS.join(", ")}`, fallback: () => "info" },
  "metrics-listen": { flag: "metrics-listen", env: "JOBEXEC_METRICS_LISTEN", value: "HOST:PORT", describe: "serve Prometheus metrics at http://HOST:PORT/metrics, plain HTTP (e.g. 127.0.0.1:9464)", fallback: () => "off" },
} satisfies Record<string, Setting>;

// A flag without a value: present (or its variable set to 1/true) means on.
const metricsOwnerLabels = { flag: "metrics-owner-labels", env: "JOBEXEC_METRICS_OWNER_LABELS", describe: "label job metrics with their owners (one series per user)" };

type Name = keyof typeof settings;

/** The help text of `jobexec-server`. */
export function serveHelp(env: Env = process.env): string {
  const rows = Object.values(settings).map((s: Setting) => {
    const left = `  --${s.flag} ${s.value}`;
    return `${left.padEnd(34)}${s.describe}\n${"".padEnd(34)}env ${s.env}; default ${s.fallback(env)}`;
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
    `${`  --${metricsOwnerLabels.flag}`.padEnd(34)}${metricsOwnerLabels.describe}\n${"".padEnd(34)}env ${metricsOwnerLabels.env}=1; default off`,
    `  -h, --help${"".padEnd(24)}show this help`,
    "",
    "Certificates default to the directory $JOBEXEC_CONFIG_DIR, else ${XDG_CONFIG_HOME:-~/.config}/jobexec",
    `(here ${defaultConfigDir(env)}). Run "jobexec-server certs --help" for the certs commands.`,
    "",
  ].join("\n");
}

/** Parses serve flags; `undefined` means --help was asked for. Throws ServerError("usage") on a bad value. */
export function parseServeArgs(args: string[], env: Env = process.env): ServeSettings | undefined {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(Object.keys(settings).map((name) => [name, { type: "string" as const }])),
        [metricsOwnerLabels.flag]: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (cause) {
    throw new ServerError("usage", `${(cause as Error).message}; see jobexec-server --help`, { cause });
  }
  if (parsed.values.help) return undefined;
  const value = (name: Name): string => {
    const flag = (parsed.values as Record<string, unknown>)[name];
    if (typeof flag === "string") return flag;
    const s: Setting = settings[name];
    return env[s.env] || s.fallback(env);
  };
  const { host, port } = parseListen(value("listen"));
  const logLevel = value("log-level");
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new ServerError("usage", `log level ${JSON.stringify(logLevel)} is not one of ${LOG_LEVELS.join(", ")}`);
  const cgroupParent = value("cgroup-parent");
  if (cgroupParent === "" || cgroupParent.split("/").some((part) => part === "" || part === "." || part === "..")) {
    throw new ServerError("usage", `cgroup parent ${JSON.stringify(cgroupParent)} must be a relative cgroup path without . or .. parts`);
  }
  const metrics = value("metrics-listen");
  const ownerLabels = parsed.values[metricsOwnerLabels.flag] === true || /^(1|true|yes|on)$/i.test(env[metricsOwnerLabels.env] ?? "");
  return {
    host,
    port,
    certFile: value("cert"),
    keyFile: value("key"),
    clientCaFile: value("client-ca"),
    dataDir: value("data-dir"),
    cgroupParent,
    defaultGraceMs: parseDuration(value("grace")),
    logLevel: logLevel as LogLevel,
    ...(metrics === "off" ? {} : { metricsListen: parseListen(metrics, "metrics address") }),
    metricsOwnerLabels: ownerLabels,
  };
}

/** Parses "HOST:PORT", "[IPV6]:PORT" or ":PORT" (all interfaces). */
export function parseListen(listen: string, what = "listen address"): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen);
  const port = Number(match?.[3]);
  if (!match || port > 65535) throw new ServerError("usage", `${what} ${JSON.stringify(listen)} is not HOST:PORT, [IPV6]:PORT or :PORT`);
  const host = match[1] ?? match[2] ?? "";
  return { host: host === "" ? "::" : host, port };
}

/** Parses a duration such as "5s", "250ms", "1m" or a bare number of seconds, to milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match) throw new ServerError("usage", `duration ${JSON.stringify(text)} is not a number with an optional unit (ms, s, m)`);
  const factor = match[2] === "ms" ? 1 : match[2] === "m" ? 60_000 : 1000;
  return Math.round(Number(match[1]) * factor);
}
