import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { refuseExisting, writeAtomically } from "../certificates/cert-files.ts";
import { ServerError } from "../error.ts";
import { flagError } from "../settings/flag-error.ts";
import { systemdUnit, type OnShutdown } from "./systemd-unit.ts";

const UNIT = "jobexec-server.service";

/** The help text of `jobexec-server install-unit`. */
export const installUnitHelp = `Usage: jobexec-server install-unit [--on-shutdown stop|keep] [--dir DIR] [--exec COMMAND] [--print] [--force]

Writes DIR/${UNIT} (DIR defaults to /etc/systemd/system), a systemd unit that runs this jobexec-server
(COMMAND defaults to this Node and this server's entry point). --on-shutdown (default $JOBEXEC_ON_SHUTDOWN, else
stop) sets what a stop or restart of the service does to running jobs, and the unit's KillMode to match: stop (the
server stops them, KillMode=mixed) or keep (they keep running for the next server to adopt, KillMode=process).
--print writes the unit to stdout instead. An existing file is not replaced without --force. Then, as root:
  systemctl daemon-reload && systemctl enable --now jobexec-server
`;

/** Runs `jobexec-server install-unit ...`; returns the text to print. Throws ServerError on bad usage or a failure. */
export async function installUnitCommand(args: string[], env: Record<string, string | undefined> = process.env): Promise<string> {
  let values;
  const options = {
    "on-shutdown": { type: "string" },
    dir: { type: "string" },
    exec: { type: "string" },
    print: { type: "boolean" },
    force: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  } as const;
  try {
    ({ values } = parseArgs({ args, strict: true, allowPositionals: false, options }));
  } catch (cause) {
    throw flagError(cause, Object.keys(options), "jobexec-server install-unit --help");
  }
  if (values.help) return installUnitHelp;
  const onShutdown = values["on-shutdown"] ?? (env.JOBEXEC_ON_SHUTDOWN || "stop");
  if (onShutdown !== "stop" && onShutdown !== "keep") throw new ServerError("usage", `--on-shutdown ${JSON.stringify(onShutdown)} is not stop or keep`);
  const exec = values.exec ?? [process.execPath, resolve(process.argv[1] ?? "")].map(quote).join(" ");
  if (!exec.startsWith("/") && !exec.startsWith('"/')) throw new ServerError("usage", `--exec ${JSON.stringify(exec)} must start with an absolute program path`);
  const unit = systemdUnit({ exec, onShutdown: onShutdown as OnShutdown });
  if (values.print) return unit;
  const path = resolve(values.dir ?? "/etc/systemd/system", UNIT);
  if (!values.force) await refuseExisting([path]);
  await writeAtomically(path, unit, 0o644);
  return `wrote ${path} (--on-shutdown ${onShutdown}); now run: systemctl daemon-reload && systemctl enable --now jobexec-server\n`;
}

// systemd splits ExecStart= at spaces; a word with spaces, quotes or backslashes is double-quoted and escaped.
function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `"${word.replace(/[\\"]/g, "\\$&")}"`;
}
