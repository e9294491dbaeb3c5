import type { UsageTimeline } from "@jobexec/proto";
import { formatBytes, millis } from "../app/format.ts";

const width = 600;
const height = 80;

function path(points: [number, number][]): string {
  return points.map(([x, y], i) => `${i === 0 ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
}

/** The job's CPU and memory over time (its usage timeline), as two lines. */
export function TimelineChart({ timeline }: { timeline: UsageTimeline }) {
  const samples = timeline.samples;
  if (samples.length < 2) return null;
  const times = samples.map((s) => millis(s.time) ?? 0);
  const t0 = times[0] as number;
  const span = Math.max(1, (times[times.length - 1] as number) - t0);
  const cpuMax = Math.max(0.01, ...samples.map((s) => s.cpu ?? 0));
  const memMax = Math.max(1, ...samples.map((s) => Number(s.memoryBytes ?? 0n)));
  const x = (i: number): number => (((times[i] as number) - t0) / span) * width;
  const cpu = samples.map((s, i): [number, number] => [x(i), height - ((s.cpu ?? 0) / cpuMax) * (height - 4) - 2]);
  const mem = samples.map((s, i): [number, number] => [x(i), height - (Number(s.memoryBytes ?? 0n) / memMax) * (height - 4) - 2]);
  return (
    <figure class="timeline">
      <svg viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label="CPU and memory over time">
        <path class="cpu" d={path(cpu)} />
        <path class="mem" d={path(mem)} />
      </svg>
      <figcaption>
        <span class="cpu">CPU, up to {cpuMax.toFixed(2)} CPUs</span> · <span class="mem">memory, up to {formatBytes(memMax)}</span> · {samples.length} samples
      </figcaption>
    </figure>
  );
}
