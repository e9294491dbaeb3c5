// The uids handed out to dynamic accounts.
import { JobError } from "../job-error.ts";
import type { UidRange } from "../types.ts";

/** systemd's DynamicUser= range, 0xEF00-0xFFEF: no distribution allocates from it. */
export const DEFAULT_UID_RANGE: UidRange = { first: 61184, last: 65519 };

// (uid_t)-1 means "unchanged" to the kernel: never an id.
const MAX_UID = 0xfffffffe;

/** Checks a range: whole numbers, first <= last, above 0, below 2^32-1. Throws JobError "invalid_argument". */
export function checkUidRange(range: UidRange): UidRange {
  const { first, last } = range;
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || first < 0 || last > MAX_UID) {
    throw new JobError("invalid_argument", `uid range ${formatUidRange(range)} must be whole numbers from 1 to ${String(MAX_UID)}`);
  }
  if (first > last) throw new JobError("invalid_argument", `uid range ${formatUidRange(range)} is empty (its first uid is above its last)`);
  if (first === 0) throw new JobError("invalid_argument", `uid range ${formatUidRange(range)} includes uid 0 (root)`);
  return { first, last };
}

/** Parses "FIRST-LAST" (e.g. "61184-65519") and checks it. Throws JobError "invalid_argument". */
export function parseUidRange(text: string): UidRange {
  const match = /^\s*(\d{1,10})\s*-\s*(\d{1,10})\s*$/.exec(text);
  if (match === null) throw new JobError("invalid_argument", `uid range ${JSON.stringify(text)} is not FIRST-LAST, e.g. 61184-65519`);
  return checkUidRange({ first: Number(match[1]), last: Number(match[2]) });
}

/** "FIRST-LAST". */
export function formatUidRange(range: UidRange): string {
  return `${String(range.first)}-${String(range.last)}`;
}
