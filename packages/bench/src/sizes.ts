/** How much work each benchmark does. */
export interface Sizes {
  /** Sequential job starts timed, after `warmUp` untimed ones (for the service and each baseline alike). */
  starts: number;
  warmUp: number;
  /** Concurrent clients for the starts-per-second figure, and the starts each makes. */
  startClients: number;
  startsPerClient: number;
  /** Bytes the write-path and follow jobs write, and how many times the write path is repeated. */
  writeBytes: number;
  writeRepeats: number;
  /** Followers of the fan-out job, spread over this many client processes and HTTP/2 connections (in total). */
  followers: number;
  followerClients: number;
  followerConnections: number;
  /** How long the single-follower baseline runs, then how long the fan-out is measured once all followers attached. */
  baselineWindowMs: number;
  fanoutWindowMs: number;
  /** Concurrently running jobs for the scale figure, and the GetJob / ListJobs calls timed. */
  jobs: number;
  getCalls: number;
  listCalls: number;
  /** Finished jobs the server holds for the paged ListJobs and memory figures (the running ones, stopped, count). */
  finishedJobs: number;
  /** Idle connections, and idle followers (100 per connection), whose memory is measured. */
  idleConnections: number;
  idleFollowers: number;
  /** Seconds over which the idle server's CPU time is measured. */
  idleSeconds: number;
  /** Times the standby pool is killed and its refill timed. */
  refillRounds: number;
  /** Finished job records in the state file for the start-up figure, and the store writes timed. */
  records: number;
  storeWrites: number;
  /** Running jobs on each of the usage figure's three servers, and the seconds their CPU is measured over. */
  usageJobs: number;
  usageSeconds: number;
  /** Jobs through the queue figure (a multiple of its 8 clients), its admin watchers, and the baseline's jobs. */
  queued: number;
  queueWatchers: number;
  queueBaseline: number;
}

/** The figures the brief asks for. */
export const full: Sizes = {
  starts: 200,
  warmUp: 3,
  startClients: 16,
  startsPerClient: 5,
  writeBytes: 2 ** 30,
  writeRepeats: 3,
  followers: 1000,
  followerClients: 4,
  followerConnections: 12,
  baselineWindowMs: 3000,
  fanoutWindowMs: 20_000,
  jobs: 1000,
  getCalls: 1000,
  listCalls: 100,
  finishedJobs: 10_000,
  idleConnections: 200,
  idleFollowers: 1000,
  idleSeconds: 10,
  refillRounds: 10,
  records: 10_000,
  storeWrites: 2000,
  usageJobs: 300,
  usageSeconds: 30,
  queued: 10_000,
  queueWatchers: 100,
  queueBaseline: 2400,
};

/**
 * Small sizes that run every benchmark end to end in about a minute on a quiet 2-core machine (the package's test;
 * each Node start costs several times more when the machine is loaded).
 */
export const quick: Sizes = {
  starts: 10,
  warmUp: 1,
  startClients: 8,
  startsPerClient: 1,
  writeBytes: 16 * 2 ** 20,
  writeRepeats: 1,
  followers: 50,
  followerClients: 2,
  followerConnections: 4,
  baselineWindowMs: 1000,
  fanoutWindowMs: 1500,
  jobs: 50,
  getCalls: 100,
  listCalls: 10,
  finishedJobs: 200,
  idleConnections: 50,
  idleFollowers: 100,
  idleSeconds: 1,
  refillRounds: 2,
  records: 2000,
  storeWrites: 200,
  usageJobs: 20,
  usageSeconds: 3,
  queued: 200,
  queueWatchers: 10,
  queueBaseline: 200,
};
