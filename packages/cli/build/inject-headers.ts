// Injected by build/bundle.ts: every free `Headers` in the bundled code refers to this export instead of the global.
export { LiteHeaders as Headers } from "../src/lite-headers.ts";
