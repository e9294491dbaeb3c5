import type { Hook } from "@oclif/core";
import { unknownCommand } from "../unknown-command.ts";

/** oclif's command_not_found hook: `jobexec strat` answers like every other usage error (see unknown-command.ts). */
const hook: Hook.CommandNotFound = async function (options) {
  unknownCommand(options.config, options.id);
};

export default hook;
