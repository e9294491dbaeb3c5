import { mkdtemp } from "node:fs/promises";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "./context.ts";
import { fanoutFigure } from "./figures/fanout.ts";
import { scaleFigure } from "./figures/scale.ts";
import { startFigure } from "./figures/start.ts";
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
  /** Progress lines (default: none). */
  progress?: (message: string) => void;
}

/** What a run produced, plus the checks the test asserts. */
export interface SuiteResult {
  report: Report;
  /** Whether every fan-out follower received exactly the job's output. */
  fanoutIdentical: boolean;
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
    const context: Context = {
      dir,
      tls: await createTls(dir),
      sizes: options.sizes,
      profile: options.profile ?? false,
      progress: options.progress ?? (() => undefined),
    };
    const sections: Section[] = [];
    sections.push(await startFigure(context));
    sections.push(...(await writeAndFollowFigures(context)));
    const fanout = await fanoutFigure(context);
    sections.push(fanout.section);
    sections.push(await scaleFigure(context));
    const report: Report = { date, mode: options.mode, machine, durationSeconds: (performance.now() - began) / 1000, sections };
    return { report, fanoutIdentical: fanout.identical };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
