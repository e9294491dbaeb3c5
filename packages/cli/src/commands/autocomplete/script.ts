// @oclif/plugin-autocomplete's `autocomplete script` command, bundled into this CLI instead of loaded as a plugin
// (no plugin is discovered at start-up). The package exports no commands, hence the path into it.
export { default } from "../../../node_modules/@oclif/plugin-autocomplete/lib/commands/autocomplete/script.js";
