// The server's limits against abuse: what each bounds, its flag, its environment variable and its default.
import { ServerError } from "../error.ts";

/** Every limit of the server (README: "Limits"). */
export interface ServerLimits {
  /** A TLS handshake not done by then is abandoned and the socket closed. */
  handshakeTimeoutMs: number;
  /** A connection without an open call for this long is closed with a GOAWAY; 0 never. */
  idleTimeoutMs: number;
  /** An HTTP/2 connection silent for this long gets a PING; 0 never. */
  keepaliveTimeMs: number;
  /** A PING not answered within this closes the connection. */
  keepaliveTimeoutMs: number;
  /** Connections of non-admin clients in total (admins have a small headroom above it). */
  maxConnections: number;
  /** Connections of one identity (certificate CN). */
  maxConnectionsPerIdentity: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS: calls open at once on one HTTP/2 connection. */
  maxStreamsPerConnection: number;
  /** Streaming calls (StreamOutput, Health/Watch) open at once for one identity. */
  maxStreamsPerIdentity: number;
  /** WatchJobs: changes waiting to be sent to one watcher; one more ends its call (RESOURCE_EXHAUSTED). */
  maxWatchBacklog: number;
  /** Largest request message. */
  maxRequestBytes: number;
  /** StartJob: program and args together, each counted with its NUL terminator. */
  maxArgsBytes: number;
  /** StartJob: env together, each entry counted as NAME=VALUE with its NUL terminator. */
  maxEnvBytes: number;
  /** File descriptors never given to client connections: for jobs, output files and the admins' headroom. */
  fdReserve: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/** The defaults. */
export const defaultLimits: ServerLimits = {
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 5 * 60_000,
  keepaliveTimeMs: 60_000,
  keepaliveTimeoutMs: 20_000,
  maxConnections: 4096,
  maxConnectionsPerIdentity: 256,
  maxStreamsPerConnection: 100,
  maxStreamsPerIdentity: 1024,
  maxWatchBacklog: 10_000,
  maxRequestBytes: MiB,
  maxArgsBytes: 128 * KiB,
  maxEnvBytes: 128 * KiB,
  fdReserve: 1024,
};

type Kind = "duration" | "count" | "size";

interface LimitSetting {
  flag: string;
  env: string;
  key: keyof ServerLimits;
  kind: Kind;
  /** The default as the flag would spell it. */
  text: string;
  describe: string;
  /** Whether 0 turns the limit off. */
  zeroDisables?: boolean;
}

/** The limit flags, in the order --help lists them. */
export const limitSettings: readonly LimitSetting[] = [
  { flag: "handshake-timeout", env: "JOBEXEC_HANDSHAKE_TIMEOUT", key: "handshakeTimeoutMs", kind: "duration", text: "10s", describe: "close connections whose TLS handshake is not done within this" },
  { flag: "idle-timeout", env: "JOBEXEC_IDLE_TIMEOUT", key: "idleTimeoutMs", kind: "duration", text: "5m", describe: "close connections without an open call after this (GOAWAY); 0: never", zeroDisables: true },
  { flag: "keepalive-time", env: "JOBEXEC_KEEPALIVE_TIME", key: "keepaliveTimeMs", kind: "duration", text: "1m", describe: "ping HTTP/2 connections silent for this long; 0: never", zeroDisables: true },
  { flag: "keepalive-timeout", env: "JOBEXEC_KEEPALIVE_TIMEOUT", key: "keepaliveTimeoutMs", kind: "duration", text: "20s", describe: "close a connection whose ping is not answered within this" },
  { flag: "max-connections", env: "JOBEXEC_MAX_CONNECTIONS", key: "maxConnections", kind: "count", text: "4096", describe: "connections in total (admins may use a few more)" },
  { flag: "max-connections-per-identity", env: "JOBEXEC_MAX_CONNECTIONS_PER_IDENTITY", key: "maxConnectionsPerIdentity", kind: "count", text: "256", describe: "connections of one client identity" },
  { flag: "max-streams-per-connection", env: "JOBEXEC_MAX_STREAMS_PER_CONNECTION", key: "maxStreamsPerConnection", kind: "count", text: "100", describe: "concurrent calls on one HTTP/2 connection (SETTINGS_MAX_CONCURRENT_STREAMS)" },
  { flag: "max-streams-per-identity", env: "JOBEXEC_MAX_STREAMS_PER_IDENTITY", key: "maxStreamsPerIdentity", kind: "count", text: "1024", describe: "open StreamOutput and Watch calls of one client identity" },
  { flag: "max-watch-backlog", env: "JOBEXEC_MAX_WATCH_BACKLOG", key: "maxWatchBacklog", kind: "count", text: "10000", describe: "changes a WatchJobs call may leave unread before it is ended" },
  { flag: "max-request-size", env: "JOBEXEC_MAX_REQUEST_SIZE", key: "maxRequestBytes", kind: "size", text: "1MiB", describe: "largest request message" },
  { flag: "max-args-size", env: "JOBEXEC_MAX_ARGS_SIZE", key: "maxArgsBytes", kind: "size", text: "128KiB", describe: "a job's program and arguments together" },
  { flag: "max-env-size", env: "JOBEXEC_MAX_ENV_SIZE", key: "maxEnvBytes", kind: "size", text: "128KiB", describe: "a job's environment variables together" },
  { flag: "fd-reserve", env: "JOBEXEC_FD_RESERVE", key: "fdReserve", kind: "count", text: "1024", describe: "file descriptors kept from client connections, for jobs and output" },
];

// The kernel refuses a single argv or environment string longer than MAX_ARG_STRLEN (32 pages) with E2BIG, and
// argv and environment together beyond a quarter of the stack limit (2 MiB with the usual 8 MiB).
const maxExecBytes = 32 * 4096;

/**
 * Parses a size: bytes, or a number with K/KiB, M/MiB, G/GiB (powers of 1024), e.g. "128KiB", "1M", "131072".
 * Throws ServerError("usage") naming `what`.
 */
export function parseSize(text: string, what = "size"): number {
  const match = /^(\d+(?:\.\d+)?)\s*(?:([KMG])(?:i?B)?|B)?$/i.exec(text.trim());
  if (!match) throw new ServerError("usage", `${what} ${JSON.stringify(text)} is not a size such as 131072, 128KiB or 1MiB`);
  const unit = (match[2] ?? "").toUpperCase();
  const factor = unit === "K" ? KiB : unit === "M" ? MiB : unit === "G" ? 1024 * MiB : 1;
  return Math.floor(Number(match[1]) * factor);
}

/**
 * The limits from flag or environment values (`value` returns the text for a flag, or undefined for its default),
 * checked: counts and sizes are positive whole numbers, durations positive (or 0 where that turns a limit off), and
 * the job size caps stay below what the kernel accepts at exec.
 */
export function parseLimits(value: (setting: LimitSetting) => string | undefined, parseDuration: (text: string) => number): ServerLimits {
  const limits = { ...defaultLimits };
  for (const setting of limitSettings) {
    const text = value(setting);
    if (text === undefined) continue;
    const what = `--${setting.flag}`;
    const n = setting.kind === "duration" ? parseDuration(text) : setting.kind === "size" ? parseSize(text, what) : Number(text);
    if (!Number.isSafeInteger(n) || n < 0 || (n === 0 && setting.zeroDisables !== true)) {
      throw new ServerError("usage", `${what} ${JSON.stringify(text)} must be a positive whole ${setting.kind === "count" ? "number" : setting.kind}${setting.zeroDisables === true ? " or 0" : ""}`);
    }
    limits[setting.key] = n;
  }
  for (const key of ["maxArgsBytes", "maxEnvBytes"] as const) {
    if (limits[key] > maxExecBytes) {
      const flag = limitSettings.find((s) => s.key === key)?.flag ?? key;
      throw new ServerError("usage", `--${flag} must be at most ${maxExecBytes} bytes (128 KiB): a longer string is refused by execve (E2BIG)`);
    }
  }
  return limits;
}
