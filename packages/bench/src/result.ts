import type { MachineInfo } from "./machine.ts";

/** A figure's goal, reported and never asserted. */
export interface Target {
  op: "<=" | ">=";
  value: number;
}

/** A baseline measured in the same run as the figure it is compared with. */
export interface Baseline {
  name: string;
  value: number;
}

/** One measured figure, with its baselines and the ratio of the figure to each. */
export interface Row {
  metric: string;
  unit: string;
  value: number;
  baselines: Baseline[];
  target?: Target;
}

/** One benchmark (start, write, follow, fan-out, scale): its rows, and notes on how it was measured. */
export interface Section {
  id: string;
  title: string;
  rows: Row[];
  notes: string[];
  /** Top self-time frames of the server child, when the run was profiled. */
  profile?: string[];
}

/** Everything a run produced: the JSON written to disk. */
export interface Report {
  date: string;
  mode: string;
  machine: MachineInfo;
  /** Seconds the whole run took. */
  durationSeconds: number;
  sections: Section[];
}

/** The figure divided by the baseline: how many times the baseline it is. */
export const ratio = (row: Row, baseline: Baseline): number => row.value / baseline.value;

/** Whether a row meets its target; undefined when it has none. */
export function meets(row: Row): boolean | undefined {
  if (row.target === undefined) return undefined;
  return row.target.op === "<=" ? row.value <= row.target.value : row.value >= row.target.value;
}
