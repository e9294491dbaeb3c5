// Strings from jobs and clients (command lines, directories, reasons, owner names) are shown as text, never markup;
// besides, their control characters are shown as escapes, as the CLI shows them (packages/cli/src/visible.ts), so
// that nothing in a job's command line hides, reorders or breaks what the page shows (a bidirectional override
// cannot make `rm -rf /` read as something else).

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const control = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const names: Record<string, string> = { "\u001b": "\\e", "\r": "\\r", "\n": "\\n", "\t": "\\t" };

function escape(char: string): string {
  const code = char.charCodeAt(0);
  return names[char] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`);
}

/** `text` with every control character as an escape: `\e`, `\r`, `\n`, `\t`, `\xNN`, `\uNNNN`. */
export function visible(text: string): string {
  return text.replace(control, escape);
}
