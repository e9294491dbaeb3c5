import { commonHelp, jsonFlag, JobexecCommand } from "../../base-command.ts";
import { contextsPath, readContexts } from "../../contexts.ts";

/** `jobexec context list`: the contexts, the current one marked. */
export default class ContextList extends JobexecCommand {
  static override summary = "List the contexts; the current one is marked with *.";
  static override description = `Prints the contexts of the contexts file (contexts.json in the config directory): name, server and credential files; a credential a context does not set is the default file of the config directory. The current context is marked with * in the CURRENT column.

${commonHelp}`;

  static override examples = [
    { description: "All contexts", command: "<%= config.bin %> context list" },
    { description: "The current context's server, with jq", command: "<%= config.bin %> context list --json | jq -r '.contexts[] | select(.current) | .server'" },
  ];

  static override flags = { ...jsonFlag };

  async run(): Promise<void> {
    const { flags } = await this.parse(ContextList);
    const file = readContexts();
    if (flags.json) {
      this.printJson({
        currentContext: file.currentContext ?? null,
        contexts: file.contexts.map((c) => ({ name: c.name, current: c.name === file.currentContext, server: c.server, cert: c.cert ?? null, key: c.key ?? null, ca: c.ca ?? null })),
      });
      return;
    }
    if (file.contexts.length === 0) {
      process.stderr.write(`no contexts in ${contextsPath()}; add one with \`jobexec context add NAME --server HOST:PORT\`\n`);
      return;
    }
    const rows = file.contexts.map((c) => [c.name === file.currentContext ? "*" : "", c.name, c.server, c.cert ?? "(default)", c.key ?? "(default)", c.ca ?? "(default)"]);
    const header = ["CURRENT", "NAME", "SERVER", "CERT", "KEY", "CA"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
    const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
    process.stdout.write(`${[header, ...rows].map(line).join("\n")}\n`);
  }
}
