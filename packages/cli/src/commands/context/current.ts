import { commonHelp, connectionFlags, jsonFlag, JobexecCommand } from "../../base-command.ts";

/** `jobexec context current`: the settings a command would connect with, and where each came from. */
export default class ContextCurrent extends JobexecCommand {
  static override summary = "Show the connection settings in effect and where each came from.";
  static override description = `Prints the context in use (if any), the server address and the client certificate, key and CA files that a command would connect with, given the same flags and environment, each with its origin: a flag (--server), an environment variable (JOBEXEC_SERVER), a context (context "ci") or the default. Nothing is sent to the server and no file is read but the contexts file.

${commonHelp}`;

  static override examples = [
    { description: "What `jobexec list` would use", command: "<%= config.bin %> context current" },
    { description: "With another context and a server from the environment", command: "JOBEXEC_SERVER=10.0.0.5:50051 <%= config.bin %> context current --context ci" },
  ];

  static override flags = { ...jsonFlag, ...connectionFlags };

  async run(): Promise<void> {
    const { flags } = await this.parse(ContextCurrent);
    const settings = this.effectiveSettings(flags);
    const rows = [
      ["context", settings.context?.value ?? "none", settings.context?.origin ?? "default"],
      ...(["server", "cert", "key", "ca"] as const).map((name) => [name, settings[name].value, settings[name].origin]),
    ] as const;
    if (flags.json) {
      this.printJson(Object.fromEntries(rows.map(([name, value, origin]) => [name, { value: name === "context" && value === "none" ? null : value, origin }])));
      return;
    }
    const width = Math.max(...rows.map(([, value]) => value.length));
    process.stdout.write(rows.map(([name, value, origin]) => `${`${name}:`.padEnd(9)}${value.padEnd(width)}  (${origin === "default" ? "default" : `from ${origin}`})\n`).join(""));
  }
}
