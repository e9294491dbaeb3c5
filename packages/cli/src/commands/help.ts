// `jobexec help [COMMAND]`: @oclif/plugin-help's command, bundled into this CLI instead of loaded as a plugin, so
// that no plugin is discovered at start-up.
import type { Command } from "@oclif/core/command";
import { commands } from "@oclif/plugin-help";

const Help: typeof Command = commands.help;
export default Help;
