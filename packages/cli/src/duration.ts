import { CliError } from "./errors.ts";

const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration into milliseconds: one or more numbers each followed by a unit, ms, s, m or h
 * (500ms, 10s, 1.5s, 1m, 1m30s, 2h); a bare 0 means zero. The result is a whole number of milliseconds, >= 0.
 */
export function parseDuration(text: string, what: string): number {
  const trimmed = text.trim();
  if (trimmed === "0") return 0;
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  const valid = parts.length > 0 && parts.map((p) => p[0]).join("") === trimmed;
  if (!valid) {
    throw new CliError("usage", `${what}: "${text}" is not a duration; use a number with a unit, ms, s, m or h, e.g. 500ms, 10s, 1m30s`);
  }
  const ms = parts.reduce((sum, [, amount, unit]) => sum + Number(amount) * (unitMs[unit ?? ""] ?? Number.NaN), 0);
  if (!Number.isSafeInteger(Math.round(ms))) {
    throw new CliError("usage", `${what}: "${text}" is too long`);
  }
  return Math.round(ms);
}

/** Formats milliseconds for people: 500ms, 1.2s, 59s, 1m 5s, 2h 3m, 3d 4h. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) return `${Number((ms / 1000).toFixed(1))}s`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const [d, h, m, s] = [Math.floor(seconds / 86_400), Math.floor(seconds / 3600) % 24, Math.floor(seconds / 60) % 60, seconds % 60];
  if (d > 0) return h > 0 ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return m > 0 ? `${h}h ${m}m` : `${h}h`;
  return s > 0 ? `${m}m ${s}s` : `${m}m`;
}
