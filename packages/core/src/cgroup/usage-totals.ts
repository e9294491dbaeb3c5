// Usage of ended jobs summed per owner, for metrics.
import type { Usage, UsageTotals } from "../types.ts";

/** Empty totals. */
export function emptyTotals(): UsageTotals {
  return {
    jobs: 0,
    cpuUsec: 0,
    cpuThrottledUsec: 0,
    oom: 0,
    oomKill: 0,
    memoryHigh: 0,
    memoryMax: 0,
    stallUsec: { cpu: { some: 0, full: 0 }, memory: { some: 0, full: 0 }, io: { some: 0, full: 0 } },
  };
}

/** Adds an ended job's final usage to `totals`. */
export function addUsage(totals: UsageTotals, usage: Usage): void {
  totals.jobs++;
  totals.cpuUsec += usage.cpuUsageUsec;
  totals.cpuThrottledUsec += usage.cpuThrottledUsec;
  const events = usage.memoryEvents;
  if (events !== undefined) {
    totals.oom += events.oom;
    totals.oomKill += events.oomKill;
    totals.memoryHigh += events.high;
    totals.memoryMax += events.max;
  }
  for (const resource of ["cpu", "memory", "io"] as const) {
    const p = usage.pressure?.[resource];
    if (p === undefined) continue;
    totals.stallUsec[resource].some += p.someTotalUsec;
    totals.stallUsec[resource].full += p.fullTotalUsec ?? 0;
  }
}
