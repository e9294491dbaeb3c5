import * as Flags from "@oclif/core/flags";
import { commonHelp, connectionFlags, jsonFlag, JobexecCommand } from "../base-command.ts";
import { CliError } from "../errors.ts";
import type { FlagToken } from "../start-request.ts";

/** `jobexec start`: starts a job and prints its id, or follows it to the end with --follow. */
export default class Start extends JobexecCommand {
  static override summary = "Start a program as a job; print its id.";
  static override description = `Runs PROGRAM with ARGS on the server, in its own cgroup with the given limits, and prints the new job's id (only the id, so ID=$(jobexec start -- ...) works). Put the program after --.

Sizes (--memory, --io-*-bps) are bytes with an optional unit: K, M, G, T are powers of 1024 as in systemd and Docker (256M = 256Mi = 268,435,456 bytes); KB, MB, GB, TB are powers of 1000 (256MB = 256,000,000 bytes).

IO limits apply per device: each --io-read-bps, --io-write-bps, --io-read-iops and --io-write-iops applies to the nearest --io-device before it. A device is MAJ:MIN or a path (a device node, or any file whose filesystem's disk is meant); partitions are limited on their whole disk.

Isolation (--network none, --private-tmp, --read-only) is off unless asked for or set by the server's --default-isolation; --network host, --no-private-tmp and --no-read-only turn a server default off for this job.

Queue: when the server is at capacity (your running jobs, all running jobs, or memory and CPU reserved by limits), the job waits in the server's queue, in order, and starts when its turn comes; it is kept across restarts of the server. --after makes it wait for other jobs to end (ID:ok, the default, for exit 0; ID:any for any end; ID:failed for any other end): when one ends otherwise, the job fails without running. --at and --delay make it wait for a moment; --priority orders it among your own queued jobs; --now refuses to queue it (the start fails at once instead).

With --follow, the job's stdout and stderr are copied to ours as they are written, and jobexec exits with the job's exit code (128 + the signal number when a signal killed it). On a terminal the job's id is printed on stderr first; Ctrl-C stops following (exit 130) and prints the id of the job, which keeps running. A queued job is followed once it runs.
A program that does not exist is refused before any job is made (exit 1, no id). A job that was made but could not be executed (a script whose #! interpreter is missing, an isolation step that failed) is recorded as failed: its id is printed, the reason on stderr, and the exit code is 126.

${commonHelp}`;

  static override usage = "start [FLAGS] -- PROGRAM [ARGS...]";

  // Not strict, only so that oclif does not read `start echo hi` as a command named "start echo hi"; positional
  // arguments before -- are refused in run() with a clear message.
  static override strict = false;

  static override examples = [
    { description: "Start a job and keep its id", command: "ID=$(<%= config.bin %> start -- sleep 60)" },
    { description: "Half a CPU, 256 MiB of memory, at most 64 processes", command: "<%= config.bin %> start --cpu 0.5 --memory 256Mi --pids 64 -- make -j8" },
    { description: "Limit writes to /dev/sda to 10 MiB/s and reads from 8:16 to 100 IOPS", command: "<%= config.bin %> start --io-device /dev/sda --io-write-bps 10M --io-device 8:16 --io-read-iops 100 -- dd if=/dev/zero of=/tmp/x bs=1M count=64 oflag=direct" },
    { description: "Environment and working directory", command: "<%= config.bin %> start --env MODE=fast --env DEBUG=1 --cwd /srv/app -- ./run.sh" },
    { description: "Secrets off the command line: TOKEN's value from this shell, the rest from a file", command: "<%= config.bin %> start --env TOKEN --env-file ./deploy.env -- ./deploy.sh" },
    { description: "No network, a private /tmp, a read-only system", command: "<%= config.bin %> start --network none --private-tmp --read-only -- make test" },
    { description: "Run, watch the output, and exit with the job's exit code", command: "<%= config.bin %> start -f -- sh -c 'echo working; exit 3'" },
    { description: "At most 10 minutes and 100 MiB of output", command: "<%= config.bin %> start --timeout 10m --max-output 100M -- ./crawl.sh" },
    { description: "Run after a build succeeded, and a report after both whatever their ends", command: "B=$(<%= config.bin %> start -- make); T=$(<%= config.bin %> start --after $B -- make test); <%= config.bin %> start --after $B:any --after $T:any -- ./report.sh" },
    { description: "Start at 02:00 local time, before the rest of your queue", command: "<%= config.bin %> start --at 02:00 --priority 10 -- ./nightly.sh" },
  ];

  static override flags = {
    cpu: Flags.string({ summary: "CPU bandwidth in CPUs: 0.5 is half a CPU, 2 is two CPUs (cpu.max).", helpGroup: "LIMITS" }),
    "cpu-weight": Flags.string({ summary: "Relative CPU weight, 1 to 10000; default 100 (cpu.weight).", helpGroup: "LIMITS" }),
    memory: Flags.string({ summary: "Memory limit, e.g. 256M or 512Mi; the job is OOM-killed above it (memory.max).", helpGroup: "LIMITS" }),
    pids: Flags.string({ summary: "Maximum number of processes and threads (pids.max).", helpGroup: "LIMITS" }),
    "io-device": Flags.string({ multiple: true, multipleNonGreedy: true, summary: "Block device for the IO rate flags after it: MAJ:MIN or a path.", helpGroup: "LIMITS" }),
    "io-read-bps": Flags.string({ multiple: true, multipleNonGreedy: true, summary: "Read bytes per second on the preceding --io-device, e.g. 10M.", helpGroup: "LIMITS" }),
    "io-write-bps": Flags.string({ multiple: true, multipleNonGreedy: true, summary: "Write bytes per second on the preceding --io-device.", helpGroup: "LIMITS" }),
    "io-read-iops": Flags.string({ multiple: true, multipleNonGreedy: true, summary: "Read operations per second on the preceding --io-device.", helpGroup: "LIMITS" }),
    "io-write-iops": Flags.string({ multiple: true, multipleNonGreedy: true, summary: "Write operations per second on the preceding --io-device.", helpGroup: "LIMITS" }),
    env: Flags.string({ multiple: true, multipleNonGreedy: true, summary: "Set an environment variable: NAME=VALUE, or NAME for the value it has here (repeatable)." }),
    "env-file": Flags.string({ multiple: true, multipleNonGreedy: true, summary: "Set the environment variables of FILE: NAME=VALUE lines, # comments (repeatable)." }),
    cwd: Flags.string({ summary: "Working directory on the server, an absolute path (default /)." }),
    network: Flags.string({ summary: "none: a network of the job's own with only lo (no connection to or from the host, its loopback included); host: the host's.", helpGroup: "ISOLATION" }),
    "private-tmp": Flags.boolean({ allowNo: true, summary: "A fresh tmpfs on /tmp and /var/tmp, seen by no one else, gone when the job ends (64 MiB unless --private-tmp-size).", helpGroup: "ISOLATION" }),
    "private-tmp-size": Flags.string({ summary: "Size of each private tmpfs, e.g. 256M (implies --private-tmp); its pages count against --memory.", helpGroup: "ISOLATION" }),
    "read-only": Flags.boolean({ allowNo: true, summary: "/, /usr, /etc, /boot, /opt and every other mount but /proc, /sys, /dev read-only; home, --cwd and the private /tmp stay writable.", helpGroup: "ISOLATION" }),
    "merge-output": Flags.boolean({ summary: "Send stderr into stdout at the source, keeping the exact order of writes.", default: false }),
    "max-output": Flags.string({ summary: "Most output the job may write, stdout and stderr together, a size like --memory (e.g. 100M); it is killed past it. Default: the server's (1 GiB)." }),
    timeout: Flags.string({ summary: "Stop the job (like jobexec stop) once it has run this long, e.g. 30s, 10m, 2h. Default: none, or the server's maximum." }),
    after: Flags.string({ multiple: true, multipleNonGreedy: true, summary: "Wait for a job to end first: ID (exit 0), ID:ok, ID:any (any end) or ID:failed (repeatable).", helpGroup: "QUEUE" }),
    at: Flags.string({ summary: "Do not start before this time: HH:MM[:SS] (local; tomorrow once past) or ISO 8601, e.g. 2026-12-08T14:00:00Z.", helpGroup: "QUEUE", exclusive: ["delay"] }),
    delay: Flags.string({ summary: "Do not start before this long from now, e.g. 30s, 10m, 2h.", helpGroup: "QUEUE" }),
    priority: Flags.string({ summary: "Order among your own queued jobs, -1000 to 1000 (higher first; default 0).", helpGroup: "QUEUE" }),
    now: Flags.boolean({ summary: "Start now or fail: never queue the job (the start fails naming what is full).", helpGroup: "QUEUE", default: false }),
    follow: Flags.boolean({ char: "f", summary: "Stream the output live and exit with the job's exit code.", default: false }),
    ...jsonFlag,
    ...connectionFlags,
  };

  async run(): Promise<void> {
    // Split at the first "--" ourselves: the program's arguments are passed verbatim, never parsed as our flags.
    const dashes = this.argv.indexOf("--");
    const ours = dashes === -1 ? this.argv : this.argv.slice(0, dashes);
    const command = dashes === -1 ? [] : this.argv.slice(dashes + 1);
    const { flags, raw, argv } = await this.parse(Start, ours);
    if (argv.length > 0) {
      throw new CliError("usage", `unexpected argument "${String(argv[0])}": put the program and its arguments after --, e.g. \`jobexec start -- echo hello\``);
    }
    if (flags.json && flags.follow) {
      throw new CliError("usage", "--json and --follow cannot be used together: --json prints the started job, --follow its output (see `jobexec start --help`)");
    }
    const tokens = raw.filter((t): t is FlagToken & { type: "flag" } => t.type === "flag");
    const { buildStartRequest } = await import("../start-request.ts");
    const request = buildStartRequest(tokens, command);
    const { client } = await this.connect(flags);
    const response = await client.startJob(request, { signal: this.abort.signal });
    const job = response.job;
    if (job === undefined) throw new Error("the server's StartJob response has no job");
    this.jobId = job.id;
    const { failedToStart } = await import("../job-facts.ts");
    const failure = failedToStart(job);
    if (flags.json) this.printJson((await import("../job-json.ts")).jobJson(job));
    else if (!flags.follow || failure !== undefined) process.stdout.write(`${job.id}\n`);
    // A job the server made but could not start (a bad interpreter, an isolation step that failed) has a record and
    // an id: say why, with the exit code of a failed start.
    if (failure !== undefined) throw failure;
    if (!flags.follow) return;
    // On a terminal, the id goes first on stderr; into a file or pipe, stderr stays the job's bytes alone. Ctrl-C
    // says it either way: whoever stops following still knows what to stop.
    if (process.stderr.isTTY) process.stderr.write(`jobexec: started job ${job.id}\n`);
    this.interruptNote = `stopped following job ${job.id}; it keeps running (\`jobexec stop ${job.id}\` stops it)`;
    const [{ copyOutput }, { exitStatus, queueLine }, { JobState }] = await Promise.all([import("../copy-output.ts"), import("../job-facts.ts"), import("../on-demand.ts")]);
    // The follow waits on the server until the job runs.
    if (job.state === JobState.QUEUED) process.stderr.write(`jobexec: job ${job.id} is queued (${queueLine(job)}); following it once it runs\n`);
    const final = await copyOutput(client, { id: job.id, stream: "both", follow: true, tailLines: 0 }, this.abort.signal);
    this.setExitCode(exitStatus(final));
  }
}
