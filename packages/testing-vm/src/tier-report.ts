import { stripVTControlCharacters } from "node:util";

/** Counts the tests of node:test spec reports from their summary lines ("ℹ tests N", "ℹ pass N", ...). */
export class TestCount {
  private readonly counts = new Map<string, number>();

  see(line: string): void {
    const match = /^ℹ (tests|pass|fail|skipped) (\d+)$/.exec(stripVTControlCharacters(line).trim());
    if (match) this.counts.set(match[1] as string, (this.counts.get(match[1] as string) ?? 0) + Number(match[2]));
  }

  /** "ran 42 tests in the VM (40 passed, 1 failed, 1 skipped)" */
  summary(where: string): string {
    const n = (name: string): number => this.counts.get(name) ?? 0;
    return `ran ${n("tests")} test${n("tests") === 1 ? "" : "s"} ${where} (${n("pass")} passed, ${n("fail")} failed, ${n("skipped")} skipped)`;
  }
}

/** Writes one line of the tier's report: "testing-vm: LINE". */
export function say(line: string): void {
  process.stdout.write(`testing-vm: ${line}\n`);
}

/** A positive number from the environment, else `fallback` (saying so when the value is not one). */
export function numberFromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) {
    say(`${name} must be a positive number, not "${process.env[name]}"; using ${fallback}`);
    return fallback;
  }
  return value;
}
