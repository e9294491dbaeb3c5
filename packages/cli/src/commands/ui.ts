import { join } from "node:path";
import * as Flags from "@oclif/core/flags";
import { commonHelp, connectionFlags, JobexecCommand } from "../base-command.ts";
import { parseListen } from "../ui/listen-address.ts";
import { isLoopback } from "../ui/request-guard.ts";

/** `jobexec ui`: a web console of the user's jobs, served on loopback, using the CLI's credentials. */
export default class Ui extends JobexecCommand {
  static override summary = "Open a web console of your jobs and their output in your browser.";
  static override description = `Serves a web console on this machine's loopback and opens your browser on it: the live list of your jobs (admins: everyone's), each job's status, usage and output (followed live, with colours, search and raw download), and a form to start jobs. The page talks only to this command, which calls the server over the same mutual-TLS connection, with the same credentials and contexts, as every other command, and forwards nothing but JobService's calls; --read-only forwards the reads only.

The browser is opened through a file only you can read (under $XDG_RUNTIME_DIR) holding the address with a one-time code, which the page exchanges for a session token: another user of this machine who reaches the port gets 401. Each run has fresh secrets. With --no-open the address with its code is printed on stdout instead. Runs until Ctrl-C.

${commonHelp}`;

  static override examples = [
    { description: "Open the console", command: "<%= config.bin %> ui" },
    { description: "A console that can only look, on a fixed port, opened by hand", command: "<%= config.bin %> ui --read-only --no-open --listen 127.0.0.1:8765" },
  ];

  static override flags = {
    listen: Flags.string({
      summary: "Address to serve on, IP:PORT (port 0: any free one). An address other than loopback serves the console to the network over plain HTTP: a warning says so.",
      default: "127.0.0.1:0",
    }),
    "no-open": Flags.boolean({ summary: "Do not start a browser: print the address (with its one-time code) on stdout.", default: false }),
    "read-only": Flags.boolean({ summary: "Forward reads only: the console cannot start, stop or delete jobs.", default: false }),
    ...connectionFlags,
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Ui);
    const { host, port } = parseListen(flags.listen);
    const { client } = await this.connect(flags);
    // The credentials and the server are checked now, with the errors every command gives, not at the first page load.
    await client.listJobs({ pageSize: 1 }, { signal: this.abort.signal });
    if (!isLoopback(host)) {
      process.stderr.write(`jobexec: warning: --listen ${flags.listen} is not a loopback address: the console is served to the network over plain HTTP, where its session token can be read in transit\n`);
    }
    const { startConsole } = await import("../ui/console-server.ts");
    const served = await startConsole({
      client,
      readOnly: flags["read-only"],
      webRoot: join(this.config.root, "dist", "web"),
      host,
      port,
      describe: async (error) => (await this.describe(error, undefined)).message,
    });
    const stop = (): void => this.abort.abort();
    process.once("SIGTERM", stop);
    const { openInBrowser, writeRedirectFile } = await import("../ui/open-browser.ts");
    const redirect = flags["no-open"] ? undefined : await writeRedirectFile(served.openUrl);
    try {
      process.stderr.write(`jobexec: console at ${served.url}${flags["read-only"] ? " (read-only)" : ""}; Ctrl-C to stop\n`);
      if (redirect === undefined) {
        process.stdout.write(`${served.openUrl}\n`);
      } else if (await openInBrowser(redirect.path)) {
        process.stderr.write(`jobexec: opened your browser (if it did not open, open ${redirect.path} in it)\n`);
      } else {
        process.stderr.write(`jobexec: could not start a browser: open ${redirect.path} in one\n`);
      }
      if (!this.abort.signal.aborted) await new Promise((resolve) => this.abort.signal.addEventListener("abort", resolve, { once: true }));
    } finally {
      process.off("SIGTERM", stop);
      await served.close();
      await redirect?.remove();
    }
  }
}
