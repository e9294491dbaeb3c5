// ListJobs pages: their size, their opaque continuation token, and their bound in bytes.
import { createHash } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Job as CoreJob, ListFilter } from "@jobexec/core";
import type { Job } from "@jobexec/proto";
import { jobMessage } from "./job-message.ts";

/** page_size 0 means this many jobs. */
export const DEFAULT_PAGE_SIZE = 100;
/** A larger page_size is taken as this (AIP-158: coerce, do not refuse). */
export const MAX_PAGE_SIZE = 1000;
/**
 * Most bytes of one encoded ListJobsResponse: a page ends early (with a next token) rather than exceed it, so no page
 * passes a client's default 4 MiB message limit and no call makes the server build a huge response.
 */
export const MAX_PAGE_BYTES = 1024 * 1024;

const TOKEN_VERSION = 1;

/** The jobs of a page per the request's page_size. */
export function pageSize(requested: number): number {
  if (requested < 0) throw new ConnectError(`page_size must not be negative, not ${requested}`, Code.InvalidArgument);
  return requested === 0 ? DEFAULT_PAGE_SIZE : Math.min(requested, MAX_PAGE_SIZE);
}

// A token names the listing it continues: the same filter (owner as resolved for the caller, states) must come back.
function filterDigest(filter: ListFilter): string {
  const states = filter.states === undefined ? null : [...new Set(filter.states)].sort();
  return createHash("sha256").update(JSON.stringify([filter.owner ?? null, states])).digest("base64url").slice(0, 16);
}

/** The token continuing a listing after the job with creation number `seq`. */
export function pageToken(seq: number, filter: ListFilter): string {
  return Buffer.from(JSON.stringify({ v: TOKEN_VERSION, seq, f: filterDigest(filter) })).toString("base64url");
}

/**
 * The creation number a page token continues after; INVALID_ARGUMENT for a token that is malformed, of another
 * version, or made for other filters (a token is only valid with the request fields that produced it).
 */
export function continueAfter(token: string, filter: ListFilter): number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    parsed = undefined;
  }
  const t = parsed as { v?: unknown; seq?: unknown; f?: unknown } | undefined;
  if (t?.v !== TOKEN_VERSION || typeof t.seq !== "number" || !Number.isSafeInteger(t.seq) || t.seq <= 0 || typeof t.f !== "string") {
    throw new ConnectError("page_token is not a token this server issued (pass next_page_token unchanged)", Code.InvalidArgument);
  }
  if (t.f !== filterDigest(filter)) {
    throw new ConnectError("page_token belongs to a listing with other filters: keep states, all_owners and owner as in the first request", Code.InvalidArgument);
  }
  return t.seq;
}

/**
 * An upper bound of the encoded size of the Job message made from `value` (a core job), found without encoding it
 * (which would double the cost of a page): each string counts its UTF-8 bytes and 16 bytes of tag and length prefix,
 * every other value 16 bytes (protobuf needs at most 12 for a tagged scalar or a nested message's header, 19 for a
 * Timestamp counted as 32). Walks whatever fields the job has, so fields added later are counted too.
 */
export function encodedSizeBound(value: unknown): number {
  if (typeof value === "string") return Buffer.byteLength(value) + 16;
  if (value instanceof Date) return 32;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + encodedSizeBound(v), 16);
  if (value !== null && typeof value === "object") {
    let n = 16;
    for (const v of Object.values(value)) n += encodedSizeBound(v);
    return n;
  }
  return 16;
}

/**
 * One page of a listing: `jobs` are the next `size` + 1 matching jobs (one more tells whether a next page exists).
 * The page holds at most `size` of them and at most {@link MAX_PAGE_BYTES} encoded (always at least one job).
 */
export function listPage(jobs: CoreJob[], size: number, filter: ListFilter): { jobs: Job[]; nextPageToken: string } {
  const page: Job[] = [];
  let bytes = 0;
  let last: CoreJob | undefined;
  for (const job of jobs.slice(0, size)) {
    const cost = encodedSizeBound(job);
    if (page.length > 0 && bytes + cost > MAX_PAGE_BYTES) break;
    page.push(jobMessage(job));
    bytes += cost;
    last = job;
  }
  const more = page.length < jobs.length;
  return { jobs: page, nextPageToken: more && last !== undefined ? pageToken(last.seq, filter) : "" };
}
