// Strings from jobs and clients (command lines, directories, owner names from certificates, failure reasons, the
// server's error messages) reach an admin's terminal through `list`, `status` and error lines. A control character
// in them would act on that terminal (change its title, clear the screen, forge a table row): each is shown as an
// escape instead. --json output stays exact (JSON has its own escapes) and `logs` copies a job's bytes as they are.

// C0 controls, DEL, C1 controls (an 8-bit CSI, U+009B, is ESC [ to many terminals), and the Unicode format characters
// that reorder or break what is shown: line and paragraph separators, bidirectional marks, embeddings and isolates.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const control = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const names: Record<string, string> = { "\u001b": "\\e", "\r": "\\r", "\n": "\\n", "\t": "\\t" };

function escape(char: string): string {
  const code = char.charCodeAt(0);
  return names[char] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`);
}

/**
 * `text` with every control character made visible for a terminal: `\e` (ESC), `\r`, `\n`, `\t`, else `\xNN`
 * (other C0 and C1 controls, DEL: BEL is `\x07`) or `\uNNNN` (line separators, bidirectional controls).
 */
export function visible(text: string): string {
  return text.replace(control, escape);
}
