import * as Args from "@oclif/core/args";
import { commonHelp, JobexecCommand } from "../../base-command.ts";
import { readContexts, writeContexts } from "../../contexts.ts";
import { CliError } from "../../errors.ts";

/** `jobexec context remove`: forgets contexts. */
export default class ContextRemove extends JobexecCommand {
  static override summary = "Remove contexts.";
  static override description = `Removes each NAME from the contexts file (the credential files stay where they are). Removing the current context leaves no current context: the flags, environment variables and defaults apply.

${commonHelp}`;

  static override examples = [
    { description: "Forget a host", command: "<%= config.bin %> context remove ci" },
    { description: "Several", command: "<%= config.bin %> context remove ci staging" },
  ];

  static override hiddenAliases = ["context:rm"];
  static override strict = false;
  static override args = {
    name: Args.string({ description: "Name of a context to remove (repeatable).", required: true }),
  };

  async run(): Promise<void> {
    const { argv } = await this.parse(ContextRemove);
    const names = argv as string[];
    const file = readContexts();
    const missing = names.filter((name) => !file.contexts.some((c) => c.name === name));
    if (missing.length > 0) throw new CliError("usage", `no context ${missing.map((n) => `"${n}"`).join(", ")}; nothing was removed (\`jobexec context list\` shows the contexts)`);
    file.contexts = file.contexts.filter((c) => !names.includes(c.name));
    const wasCurrent = file.currentContext !== undefined && names.includes(file.currentContext);
    if (wasCurrent) delete file.currentContext;
    writeContexts(file);
    for (const name of names) process.stdout.write(`removed context "${name}"\n`);
    if (wasCurrent) process.stdout.write("no current context now: the flags, environment variables and defaults apply\n");
  }
}
