// The options of JobManager.create() after defaults, checked before anything is made.
import { totalmem } from "node:os";
import { JobError } from "../job-error.ts";
import { checkStandbySize } from "../launch/launch-job.ts";
import type { IsolationSpec, ManagerOptions } from "../types.ts";
import { checkIsolationSpec } from "./isolation.ts";
import type { RunBounds } from "./run-bounds.ts";

const day = 24 * 60 * 60 * 1000;
const gib = 1024 ** 3;

/** Settings of {@link ManagerOptions} after defaults, checked. */
export interface Settings extends RunBounds {
  graceMs: number;
  retainMs: number;
  outputBudgetBytes: number;
  minFreeBytes: number;
  onClose: "stop" | "keep";
  /** Standbys per output mode in use. */
  standby: number;
  /** Isolation for the fields a spec leaves unset. */
  defaultIsolation: IsolationSpec;
  /** Usage timeline sampling interval; 0: off. */
  usageSampleMs: number;
}

/** The settings `options` amount to; JobError "invalid_argument" for a bad one. */
export function checkSettings(options: ManagerOptions): Settings {
  const number = (what: string, value: number | undefined, fallback: number, min: number): number => {
    const n = value ?? fallback;
    if (!(Number.isSafeInteger(n) && n >= min)) throw new JobError("invalid_argument", `${what} must be a whole number >= ${String(min)}`);
    return n;
  };
  const grace = options.defaultGraceMs;
  if (grace !== undefined && !(Number.isFinite(grace) && grace >= 0)) {
    throw new JobError("invalid_argument", "defaultGraceMs must be a finite number >= 0");
  }
  const settings: Settings = {
    graceMs: grace ?? 5000,
    maxOutputBytes: number("maxOutputBytes", options.maxOutputBytes, gib, 1),
    maxTimeoutMs: options.maxTimeoutMs === undefined ? undefined : number("maxTimeoutMs", options.maxTimeoutMs, 0, 1),
    retainMs: number("retainMs", options.retainMs, 7 * day, 0),
    outputBudgetBytes: number("outputBudgetBytes", options.outputBudgetBytes, 10 * gib, 0),
    minFreeBytes: number("minFreeBytes", options.minFreeBytes, 256 * 1024 * 1024, 0),
    onClose: options.onClose ?? "stop",
    standby: checkStandbySize(options.standby),
    defaultIsolation: checkIsolationSpec(options.defaultIsolation, "defaultIsolation", totalmem()),
    usageSampleMs: number("usageSampleMs", options.usageSampleMs, 5000, 0),
  };
  if (settings.usageSampleMs > 0 && settings.usageSampleMs < 100) throw new JobError("invalid_argument", "usageSampleMs must be 0 (off) or at least 100");
  if (settings.outputBudgetBytes < settings.maxOutputBytes) {
    throw new JobError("invalid_argument", "outputBudgetBytes must be at least maxOutputBytes: one job's output would be removed the moment it ends");
  }
  if (settings.onClose !== "stop" && settings.onClose !== "keep") throw new JobError("invalid_argument", 'onClose must be "stop" or "keep"');
  return settings;
}
