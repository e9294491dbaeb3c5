import os from "node:os";

/** The machine a run measured, recorded with every result because absolute figures only mean something there. */
export interface MachineInfo {
  cores: number;
  model: string;
  memoryBytes: number;
  kernel: string;
  node: string;
  /** 1, 5 and 15 minute load averages when the run started: how busy the shared machine was. */
  loadAverage: number[];
}

/** Describes this machine. */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cores: os.availableParallelism(),
    model: cpus[0]?.model.trim() ?? "unknown",
    memoryBytes: os.totalmem(),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}
