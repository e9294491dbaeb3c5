import assert from "node:assert/strict";
import { test } from "node:test";
import { quick } from "./sizes.ts";
import { runSuite } from "./suite.ts";
import { renderMarkdown } from "./table.ts";

// End to end against real jobexec-server children: asserts that every figure was produced and that the fan-out
// copies were identical — never a timing.
test("the quick suite produces every figure", { timeout: 300_000 }, async () => {
  const { report, fanoutIdentical } = await runSuite({ mode: "quick", sizes: quick });
  assert.deepEqual(
    report.sections.map((s) => s.id),
    ["start-native", "start-node", "standby", "write", "follow", "fanout", "scale", "startup", "usage", "queue"],
  );
  for (const section of report.sections) {
    assert.ok(section.rows.length > 0, `${section.id} has rows`);
    for (const row of section.rows) {
      assert.ok(Number.isFinite(row.value), `${section.id} ${row.metric} = ${row.value}`);
      for (const baseline of row.baselines) {
        assert.ok(Number.isFinite(baseline.value) && baseline.value >= 0, `${section.id} ${row.metric} baseline ${baseline.name} = ${baseline.value}`);
      }
    }
  }
  assert.ok(fanoutIdentical, "every fan-out follower received exactly the job's output");
  const table = renderMarkdown(report);
  assert.match(table, /\| metric \| jobexec \|/);
  assert.ok(report.machine.cores > 0 && report.machine.node.startsWith("v"));
});
