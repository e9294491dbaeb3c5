import { meets, ratio, type Report, type Row } from "./result.ts";

// Three significant figures, without exponent notation: enough to compare, short enough to read.
const fmt = (n: number): string => {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return n.toFixed(digits);
};

const cells = (row: Row): string[] => {
  const met = meets(row);
  return [
    row.metric,
    `${fmt(row.value)} ${row.unit}`,
    row.baselines.map((b) => `${b.name}: ${fmt(b.value)} ${row.unit}`).join("<br>"),
    row.baselines.map((b) => (b.value === 0 ? "-" : `${fmt(ratio(row, b))}x`)).join("<br>"),
    row.target === undefined ? "" : `${row.target.op} ${fmt(row.target.value)} ${row.unit}`,
    met === undefined ? "" : met ? "yes" : "**no**",
  ];
};

/** Renders a run as markdown: the machine, then one table per section with its notes (and profile, if any). */
export function renderMarkdown(report: Report): string {
  const m = report.machine;
  const lines = [
    `# jobexec benchmarks (${report.mode} mode, ${report.date})`,
    "",
    `Machine: ${m.cores} cores, ${m.model}, ${fmt(m.memoryBytes / 2 ** 30)} GiB, ${m.kernel}, Node ${m.node}; ` +
      `load average at start ${m.loadAverage.join(" / ")}; run took ${fmt(report.durationSeconds)} s.`,
  ];
  for (const section of report.sections) {
    lines.push("", `## ${section.title}`, "");
    lines.push("| metric | jobexec | baselines (same run) | ratio | target | met |");
    lines.push("| --- | ---: | --- | --- | --- | --- |");
    for (const row of section.rows) lines.push(`| ${cells(row).join(" | ")} |`);
    if (section.notes.length > 0) lines.push("", ...section.notes.map((n) => `- ${n}`));
    if (section.profile !== undefined) {
      lines.push("", "Server CPU profile, top self time:", "", "```", ...section.profile, "```");
    }
  }
  return `${lines.join("\n")}\n`;
}
