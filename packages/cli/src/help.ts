import { Help } from "@oclif/core/help";
import { unknownCommand } from "./unknown-command.ts";

/**
 * oclif's help, except that help for a command we do not have is the CLI's one-line usage error, and a reader
 * that goes away (`jobexec --help | head`) ends it quietly with exit 0, as for every command.
 */
export default class JobexecHelp extends Help {
  override async showHelp(argv: string[]): Promise<void> {
    process.stdout.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") process.exit(0);
      throw error;
    });
    const subject = argv.find((arg) => !arg.startsWith("-"));
    if (subject !== undefined && this.config.findCommand(subject) === undefined && this.config.findTopic(subject) === undefined) {
      unknownCommand(this.config, subject);
    }
    await super.showHelp(argv);
  }
}
