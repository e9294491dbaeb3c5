import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import { commonHelp, connectionFlags, JobexecCommand } from "../base-command.ts";
import { parseJobId } from "../job-id.ts";
import { parseCount } from "../units.ts";

/** `jobexec logs`: copies a job's output, byte for byte. */
export default class Logs extends JobexecCommand {
  static override summary = "Print a job's output: its stdout on stdout, its stderr on stderr.";
  static override description = `Copies the job's output exactly as it was written (binary data included, nothing added): the job's stdout to stdout, its stderr to stderr. With --follow, keeps copying new output until the job ends, then exits 0; Ctrl-C stops following (exit 130) and leaves the job running. A job started with --merge-output has everything on stdout.

${commonHelp}`;

  static override examples = [
    { description: "Everything the job wrote so far", command: "<%= config.bin %> logs $ID" },
    { description: "The last 20 lines of each stream, then live output until the job ends", command: "<%= config.bin %> logs -f --tail 20 $ID" },
    { description: "Only stderr", command: "<%= config.bin %> logs --stream stderr $ID" },
    { description: "Save binary output exactly", command: "<%= config.bin %> logs --stream stdout $ID > output.bin" },
  ];

  static override args = {
    id: Args.string({ description: "Job id.", required: true }),
  };

  static override flags = {
    follow: Flags.boolean({ char: "f", summary: "Keep printing new output until the job ends.", default: false }),
    stream: Flags.string({ summary: "Which output to print.", options: ["stdout", "stderr", "both"], default: "both" }),
    tail: Flags.string({ summary: "Start at the last N lines of each stream instead of the beginning." }),
    ...connectionFlags,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Logs);
    this.jobId = parseJobId(args.id);
    const tailLines = flags.tail === undefined ? 0 : parseCount(flags.tail, "--tail");
    const stream = flags.stream as "stdout" | "stderr" | "both";
    const { client } = await this.connect(flags);
    const { copyOutput } = await import("../copy-output.ts");
    await copyOutput(client, { id: this.jobId, stream, follow: flags.follow, tailLines }, this.abort.signal);
  }
}
