import * as Args from "@oclif/core/args";
import { commonHelp, JobexecCommand } from "../../base-command.ts";
import { DEFAULT_CONTEXT, readContexts, writeContexts } from "../../contexts.ts";
import { CliError } from "../../errors.ts";

/** `jobexec context use`: makes a context the current one. */
export default class ContextUse extends JobexecCommand {
  static override summary = "Make a context the current one.";
  static override description = `Every command then connects with NAME's server and credentials, unless --context, JOBEXEC_CONTEXT, or a connection flag or variable says otherwise. \`jobexec context use ${DEFAULT_CONTEXT}\` goes back to no context: the flags, environment variables and built-in defaults.

${commonHelp}`;

  static override examples = [
    { description: "Work against the CI host", command: "<%= config.bin %> context use ci" },
    { description: "Back to the defaults (127.0.0.1:50051, credentials of the config directory)", command: `<%= config.bin %> context use ${DEFAULT_CONTEXT}` },
  ];

  static override args = {
    name: Args.string({ description: `Name of the context, or ${DEFAULT_CONTEXT}.`, required: true }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(ContextUse);
    const file = readContexts();
    if (args.name === DEFAULT_CONTEXT) {
      delete file.currentContext;
    } else {
      if (!file.contexts.some((c) => c.name === args.name)) throw new CliError("usage", `no context "${args.name}"; \`jobexec context list\` shows the contexts`);
      file.currentContext = args.name;
    }
    writeContexts(file);
    process.stdout.write(`current context: ${args.name}\n`);
  }
}
