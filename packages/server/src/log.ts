/** Severity of a log line; lines below the logger's level are dropped. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Fields of a log line besides its time, level and message. */
export type LogFields = Record<string, unknown>;

/** A structured logger writing one JSON object per line. */
export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/** The log levels, least severe first. */
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** Creates a logger writing JSON lines (`{"time","level","msg",...fields}`) to `out` (default stderr). */
export function createLogger(level: LogLevel = "info", out: { write(line: string): unknown } = process.stderr): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const emit = (at: LogLevel) => (msg: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(at) < threshold) return;
    out.write(`${JSON.stringify({ time: new Date().toISOString(), level: at, msg, ...fields }, jsonSafe)}\n`);
  };
  return { level, debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

/** A logger that drops everything. */
export const silentLogger: Logger = createLogger("error", { write: () => true });

// Errors serialise to {} and bigints throw in JSON.stringify: render both readably.
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, message: value.message, ...(code === undefined ? {} : { code }), cause: value.cause };
  }
  return value;
}

/**
 * `text` cut to its first `max` characters, saying how many more there were: every client-supplied string (a job id,
 * a program, an error quoting them) goes into a log line through this, so no request can make a huge log line.
 */
export function clip(text: string, max = 64): string {
  return text.length <= max ? text : `${text.slice(0, max)}…(+${text.length - max} chars)`;
}
