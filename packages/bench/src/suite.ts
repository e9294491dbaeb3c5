import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "./context.ts";
import { fanoutFigure } from "./figures/fanout.ts";
import { scaleFigure } from "./figures/scale.ts";
import { standbyFigure } from "./figures/standby.ts";
import { startFigures } from "./figures/start.ts";
import { queueFigure } from "./figures/queue.ts";
import { startupFigure } from "./figures/startup.ts";
import { usageFigure } from "./figures/usage.ts";
import { writeAndFollowFigures } from "./figures/write.ts";
import { machineInfo } from "./machine.ts";
import type { Report, Section } from "./result.ts";
import type { Sizes } from "./sizes.ts";
import { createTls } from "./tls.ts";

/** Options of {@link runSuite}. */
export interface SuiteOptions {
  mode: string;
  sizes: Sizes;
  profile?: boolean;
  /** Run only these benchmarks ({@link benchmarks}); default all. */
  only?: readonly Benchmark[];
  /** Progress lines (default: none). */
  progress?: (message: string) => void;
}

/** The benchmarks, in the order they run; "start" produces a figure per target, "write" also the follow figure. */
export const benchmarks = ["start", "standby", "write", "fanout", "scale", "startup", "usage", "queue"] as const;
export type Benchmark = (typeof benchmarks)[number];

/** What a run produced, plus the checks the test asserts. */
export interface SuiteResult {
  report: Report;
  /** Whether every fan-out follower received exactly the job's output (undefined when fan-out did not run). */
  fanoutIdentical?: boolean;
}

/**
 * Runs every benchmark in turn against fresh `jobexec-server` children, each figure with its baselines measured in
 * the same run, in a temp directory that is removed afterwards.
 */
export async function runSuite(options: SuiteOptions): Promise<SuiteResult> {
  const began = performance.now();
  const date = new Date().toISOString();
  const machine = machineInfo();
  const dir = await mkdtemp(join(tmpdir(), "jobexec-bench-"));
  try {
    // Jobs run as dynamic accounts, which must pass through the servers' data directories to their homes.
    await chmod(dir, 0o711);
    const context: Context = {
      dir,
      tls: await createTls(dir),
      sizes: options.sizes,
      profile: options.profile ?? false,
      progress: options.progress ?? (() => undefined),
    };
    const run = (b: Benchmark): boolean => options.only === undefined || options.only.includes(b);
    const sections: Section[] = [];
    let fanoutIdentical: boolean | undefined;
    if (run("start")) sections.push(...(await startFigures(context)));
    if (run("standby")) sections.push(await standbyFigure(context));
    if (run("write")) sections.push(...(await writeAndFollowFigures(context)));
    if (run("fanout")) {
      const fanout = await fanoutFigure(context);
      sections.push(fanout.section);
      fanoutIdentical = fanout.identical;
    }
    if (run("scale")) sections.push(await scaleFigure(context));
    if (run("startup")) sections.push(await startupFigure(context));
    if (run("usage")) sections.push(await usageFigure(context));
    if (run("queue")) sections.push(await queueFigure(context));
    const report: Report = { date, mode: options.mode, machine, durationSeconds: (performance.now() - began) / 1000, sections };
    return fanoutIdentical === undefined ? { report } : { report, fanoutIdentical };
  } finally {
    // Retried: a child that was still writing into it can make the first attempt fail with ENOTEMPTY.
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }).catch((error: unknown) => {
      options.progress?.(`cannot remove ${dir}: ${String(error)}`);
    });
  }
}
