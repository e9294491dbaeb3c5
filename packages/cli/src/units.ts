import { CliError } from "./errors.ts";

// Binary multipliers, as systemd (MemoryMax=) and Docker (--memory) read K, M, G, T; "K" and "k" are the same.
// Only the explicitly decimal spellings KB, MB, GB, TB are powers of 1000.
const powers: Record<string, number> = { "": 0, k: 1, m: 2, g: 3, t: 4 };

const sizePattern = /^(\d+(?:\.\d+)?)\s*(?:([kmgt])(i)?(b)?|(b))?$/i;

/**
 * Parses a byte count: a number with an optional unit. K, M, G, T (and Ki, Mi, Gi, Ti, KiB, MiB...) are powers of
 * 1024, as in systemd and Docker (256M = 256Mi = 268,435,456 bytes); KB, MB, GB, TB are powers of 1000
 * (256MB = 256,000,000 bytes). Letters are case-insensitive, fractions are allowed when the result is a whole number
 * of bytes (1.5K).
 * The result is a positive integer. `what` names the flag in the error message.
 */
export function parseBytes(text: string, what: string): number {
  const match = sizePattern.exec(text.trim());
  if (match?.[1] === undefined) {
    throw new CliError("usage", `${what}: "${text}" is not a size; use a number of bytes with an optional unit: K, M, G, T (powers of 1024, also written Ki, Mi, Gi, Ti) or KB, MB, GB, TB (powers of 1000), e.g. 256M or 500MB`);
  }
  const [, number, prefix = "", binary, byteSuffix] = match;
  const base = byteSuffix !== undefined && binary === undefined ? 1000 : 1024;
  const bytes = Number(number) * base ** (powers[prefix.toLowerCase()] ?? 0);
  if (!Number.isSafeInteger(bytes)) {
    throw new CliError("usage", `${what}: "${text}" is not a whole number of bytes below 8 PiB`);
  }
  if (bytes <= 0) {
    throw new CliError("usage", `${what}: "${text}" must be more than 0 bytes`);
  }
  return bytes;
}

/** Parses a positive integer count, e.g. a number of processes or IO operations per second. */
export function parseCount(text: string, what: string): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new CliError("usage", `${what}: "${text}" is not a positive whole number`);
  }
  return value;
}

/** Parses a CPU bandwidth in CPUs: 0.5 is half a CPU, 2 is two CPUs; 50% is accepted for 0.5. */
export function parseCpu(text: string, what: string): number {
  const match = /^(\d+(?:\.\d+)?|\.\d+)(%?)$/.exec(text.trim());
  const value = match?.[1] === undefined ? Number.NaN : Number(match[1]) / (match[2] === "%" ? 100 : 1);
  if (!(value > 0)) {
    throw new CliError("usage", `${what}: "${text}" is not a positive number of CPUs, e.g. 0.5 (half a CPU), 2 or 50%`);
  }
  return value;
}

const iecUnits = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
const siUnits = ["B", "kB", "MB", "GB", "TB", "PB"];

/**
 * Formats a byte count for people. A count that is a whole number (below 10 000) of some binary or decimal unit is
 * shown exactly in it (256 MiB, 256 MB: so limits read back as they were given); anything else (a host's memory of
 * 24683772 KiB) in binary units with one decimal.
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  for (let power = iecUnits.length - 1; power > 0; power--) {
    for (const [base, units] of [[1024, iecUnits], [1000, siUnits]] as const) {
      const unit = base ** power;
      if (bytes >= unit && bytes % unit === 0 && bytes / unit < 10_000) return `${bytes / unit} ${units[power]}`;
    }
  }
  let power = 0;
  while (power < iecUnits.length - 1 && bytes >= 1024 ** (power + 1)) power++;
  return `${(bytes / 1024 ** power).toFixed(1)} ${iecUnits[power]}`;
}
