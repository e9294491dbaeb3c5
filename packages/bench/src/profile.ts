import { readFile } from "node:fs/promises";

// The parts of V8's .cpuprofile format (written by node --cpu-prof) that a self-time summary needs.
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * Summarises a V8 CPU profile as its top frames by self time (idle excluded), one line each:
 * share of busy time, milliseconds, function, file:line.
 */
export async function summarizeProfile(path: string, top = 12): Promise<string[]> {
  const profile = JSON.parse(await readFile(path, "utf8")) as CpuProfile;
  const frameOf = new Map<number, string>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url === "" ? "" : ` ${url.replace(/^.*\/node_modules\//, "").replace(/^file:\/\/.*\/packages\//, "")}:${lineNumber + 1}`;
    frameOf.set(node.id, `${functionName === "" ? "(anonymous)" : functionName}${file}`);
  }
  const selfMs = new Map<string, number>();
  let busyMs = 0;
  profile.samples.forEach((id, i) => {
    const frame = frameOf.get(id) ?? "(unknown)";
    if (frame === "(idle)") return;
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    busyMs += ms;
    selfMs.set(frame, (selfMs.get(frame) ?? 0) + ms);
  });
  const lines = [...selfMs].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [
    `busy ${busyMs.toFixed(0)} ms`,
    ...lines.map(([frame, ms]) => `${((100 * ms) / busyMs).toFixed(1).padStart(5)}% ${ms.toFixed(0).padStart(7)} ms  ${frame}`),
  ];
}
