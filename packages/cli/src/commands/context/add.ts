import { accessSync, constants } from "node:fs";
import { resolve } from "node:path";
import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import { commonHelp, JobexecCommand } from "../../base-command.ts";
import { checkContextName, readContexts, writeContexts, type Context } from "../../contexts.ts";
import { CliError } from "../../errors.ts";
import { importBundle } from "../../bundle.ts";
import { serverUrl } from "../../server-address.ts";

/** `jobexec context add`: stores a named server with its credentials. */
export default class ContextAdd extends JobexecCommand {
  static override summary = "Add a context: a server and the credentials for it, under a name.";
  static override description = `Stores NAME in the contexts file (contexts.json in the config directory, mode 0600) with the server address and the paths of the client certificate, key and CA (made absolute), or with those of a bundle (--bundle, from \`jobexec-server certs issue --bundle\`), whose three parts are kept in contexts/NAME/ in the config directory. A credential left out takes the default file of the config directory. \`jobexec context use NAME\` makes it the current context; --context NAME or JOBEXEC_CONTEXT=NAME use it for one command. Flags and environment variables still win over a context's settings.

${commonHelp}`;

  static override examples = [
    { description: "A second host", command: "<%= config.bin %> context add ci --server ci-runner-3:50051 --cert ~/ci/alice.pem --key ~/ci/alice.key --ca ~/ci/ca.pem" },
    { description: "Use it from now on", command: "<%= config.bin %> context use ci" },
    { description: "From the one file an administrator handed over", command: "<%= config.bin %> context add ci --server ci-runner-3:50051 --bundle alice.bundle.pem" },
    { description: "Replace it", command: "<%= config.bin %> context add ci --server ci-runner-4:50051 --force" },
  ];

  static override args = {
    name: Args.string({ description: "Name of the context (letters, digits, . _ -).", required: true }),
  };

  static override flags = {
    server: Flags.string({ summary: "Server address, HOST:PORT.", required: true }),
    cert: Flags.string({ summary: "Client certificate (PEM)." }),
    key: Flags.string({ summary: "Client private key (PEM)." }),
    ca: Flags.string({ summary: "CA certificate that signed the server's certificate (PEM)." }),
    bundle: Flags.string({ summary: "A credentials bundle from `jobexec-server certs issue --bundle`: its certificate, key and CA are kept in the config directory (contexts/NAME/).", exclusive: ["cert", "key", "ca"] }),
    force: Flags.boolean({ summary: "Replace a context of the same name.", default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ContextAdd);
    const name = checkContextName(args.name);
    serverUrl(flags.server);
    const context: Context = { name, server: flags.server.trim() };
    for (const [key, what] of [["cert", "client certificate"], ["key", "client key"], ["ca", "CA certificate"]] as const) {
      const given = flags[key];
      if (given === undefined) continue;
      const path = resolve(given);
      try {
        accessSync(path, constants.R_OK);
      } catch (error) {
        throw new CliError("credentials", `--${key}: ${what} file ${path} is not readable (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
      }
      context[key] = path;
    }
    const file = readContexts();
    const existing = file.contexts.findIndex((c) => c.name === name);
    if (existing >= 0 && !flags.force) throw new CliError("usage", `context "${name}" already exists; use --force to replace it`);
    if (flags.bundle !== undefined) Object.assign(context, importBundle(resolve(flags.bundle), name));
    if (existing >= 0) file.contexts[existing] = context;
    else file.contexts.push(context);
    writeContexts(file);
    const hint = file.currentContext === name ? "it is the current context" : `\`jobexec context use ${name}\` makes it the current context`;
    process.stdout.write(`${existing >= 0 ? "replaced" : "added"} context "${name}" (${context.server}); ${hint}\n`);
  }
}
