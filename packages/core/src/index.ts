/**
 * The jobexec job library: jobs in per-job cgroups, output storage and streaming, tree stop.
 */
export type * from "./types.ts";
export { JobManager } from "./job-manager.ts";
export { JobError, type JobErrorCode } from "./job-error.ts";
export { isJobId } from "./job-id.ts";
export { MAX_PRIORITY, MAX_WEIGHT } from "./schedule/scheduler.ts";
export { maxChunkBytes, releaseChunk } from "./output/chunk-buffers.ts";
export { DEFAULT_UID_RANGE, formatUidRange, parseUidRange } from "./accounts/uid-range.ts";
// The job store of a data directory, for tools that read or write its records (the benchmarks build one with it).
export { SqliteStore } from "./store/sqlite-store.ts";
export type { JobRow, JobStore } from "./store/job-store.ts";
// A job's usage samples in memory, for the benchmark that measures what they cost.
export { UsageRing, ringCapacity } from "./cgroup/usage-ring.ts";
