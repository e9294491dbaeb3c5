// The body of slow (see slow.ts for the entry point and usage.ts for what it does).
import { allocate } from "./alloc.ts";
import { parseArgs } from "./args.ts";
import { writeBytes } from "./bytes.ts";
import { forkChildren, killChildren, startBackground } from "./children.ts";
import { printLines } from "./lines.ts";
import { SlowError } from "./slow-error.ts";
import { spin } from "./spin.ts";
import { usage } from "./usage.ts";
import { writeAll } from "./write-all.ts";

async function main(args: readonly string[]): Promise<number> {
  const options = parseArgs(args);
  if (options.help) {
    writeAll(1, usage);
    return 0;
  }
  if (options.ignoreTerm) process.on("SIGTERM", () => writeAll(2, "ignored SIGTERM\n"));
  if (options.background) startBackground();
  const children = options.fork > 0 ? await forkChildren(options.fork) : [];
  if (options.alloc > 0) writeAll(1, `allocated ${allocate(options.alloc)} MiB\n`);
  spin(options.spin);
  if (options.bytes !== undefined) {
    writeBytes(options.bytes);
  } else {
    await printLines(options.lines, options.interval);
    writeAll(1, `exited ${options.code}\n`);
  }
  killChildren(children);
  return options.code;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (!(err instanceof SlowError)) throw err;
    writeAll(2, `slow: ${err.message}\n\n${usage}`);
    process.exit(err.code);
  },
);
