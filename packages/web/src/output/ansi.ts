// Terminal escapes in job output, turned into styled text runs. Job output is hostile input: nothing here makes
// markup; the app renders each run as a text node. Only SGR (colours, bold...) and OSC 8 hyperlinks to http(s) take
// effect; every other escape sequence is dropped and other control characters are shown as visible symbols.

/** A colour: 0-255 from the 256-colour palette (0-15 follow the theme), or "#rrggbb". */
export type Color = number | string;

/** The SGR attributes of a run of text. */
export interface Style {
  fg?: Color;
  bg?: Color;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
  inverse?: boolean;
  strike?: boolean;
}

/** A run of text with one style, and the http(s) link it belongs to, if any. */
export interface Segment {
  text: string;
  style: Style;
  link?: string;
}

/** What carries from one line of a stream to the next: the current style and open link. */
export interface AnsiState {
  style: Style;
  link?: string;
}

/** The state at the start of a stream. */
export function initialState(): AnsiState {
  return { style: {} };
}

/** A copy of a state, to parse a line again from where it began. */
export function copyState(state: AnsiState): AnsiState {
  return { style: { ...state.style }, link: state.link };
}

/** Whether `uri` is an absolute http: or https: URL: the only links made clickable. */
export function isWebLink(uri: string): boolean {
  try {
    const { protocol } = new URL(uri);
    return protocol === "http:" || protocol === "https:";
  } catch {
    return false;
  }
}

const esc = "\x1b";

/** A control character as its visible Unicode symbol (U+2400 block), e.g. NUL as ␀. */
function visibleControl(code: number): string {
  if (code === 0x7f) return "\u2421";
  if (code < 0x20) return String.fromCharCode(0x2400 + code);
  return "\ufffd";
}

function paletteColor(params: number[], i: number): { color?: Color; used: number } {
  if (params[i + 1] === 5) {
    const n = params[i + 2];
    return { color: n !== undefined && n >= 0 && n <= 255 ? n : undefined, used: 2 };
  }
  if (params[i + 1] === 2) {
    const [r, g, b] = [params[i + 2], params[i + 3], params[i + 4]];
    const ok = [r, g, b].every((c) => c !== undefined && c >= 0 && c <= 255);
    const hex = ok ? `#${[r, g, b].map((c) => (c as number).toString(16).padStart(2, "0")).join("")}` : undefined;
    return { color: hex, used: 4 };
  }
  return { used: 0 };
}

/** A style after one SGR parameter list (the text between "ESC[" and "m"). */
export function applySgr(current: Style, paramText: string): Style {
  let style: Style = { ...current };
  // Colon sub-parameters (38:2::r:g:b, 4:3) are read like their semicolon forms; the colour space id is skipped.
  const groups = paramText === "" ? [""] : paramText.split(";");
  const params: number[] = [];
  for (const group of groups) {
    if (group.includes(":")) {
      const sub = group.split(":").map((p) => (p === "" ? 0 : Number(p)));
      if (sub[0] === 38 || sub[0] === 48 || sub[0] === 58) {
        if (sub[1] === 2 && sub.length >= 6) sub.splice(2, 1);
        params.push(...sub);
      } else {
        params.push(sub[0] ?? 0);
      }
    } else {
      params.push(group === "" ? 0 : Number(group));
    }
  }
  for (let i = 0; i < params.length; i++) {
    const p = params[i] as number;
    if (p === 0 || Number.isNaN(p)) {
      style = {};
    } else if (p === 1) style.bold = true;
    else if (p === 2) style.dim = true;
    else if (p === 3) style.italic = true;
    else if (p === 4) style.underline = true;
    else if (p === 7) style.inverse = true;
    else if (p === 9) style.strike = true;
    else if (p === 22) {
      delete style.bold;
      delete style.dim;
    }
    else if (p === 23) delete style.italic;
    else if (p === 24) delete style.underline;
    else if (p === 27) delete style.inverse;
    else if (p === 29) delete style.strike;
    else if (p >= 30 && p <= 37) style.fg = p - 30;
    else if (p === 39) delete style.fg;
    else if (p >= 40 && p <= 47) style.bg = p - 40;
    else if (p === 49) delete style.bg;
    else if (p >= 90 && p <= 97) style.fg = p - 90 + 8;
    else if (p >= 100 && p <= 107) style.bg = p - 100 + 8;
    else if (p === 38 || p === 48 || p === 58) {
      const { color, used } = paletteColor(params, i);
      if (color !== undefined && p === 38) style.fg = color;
      if (color !== undefined && p === 48) style.bg = color;
      i += used;
    }
  }
  return style;
}

/** Writes text at a column of a line, overwriting what is there as a terminal would after a carriage return. */
function write(segments: Segment[], column: number, text: string, state: AnsiState): void {
  const run: Segment = { text, style: { ...state.style }, ...(state.link === undefined ? {} : { link: state.link }) };
  let start = 0;
  let index = 0;
  // Find the segment holding `column`.
  while (index < segments.length && start + (segments[index] as Segment).text.length <= column) {
    start += (segments[index] as Segment).text.length;
    index++;
  }
  if (index === segments.length) {
    segments.push(run);
    return;
  }
  const end = column + text.length;
  const before: Segment[] = [];
  const after: Segment[] = [];
  let removeCount = 0;
  let pos = start;
  for (let j = index; j < segments.length; j++) {
    const seg = segments[j] as Segment;
    const segEnd = pos + seg.text.length;
    if (pos < column) before.push({ ...seg, text: seg.text.slice(0, column - pos) });
    if (segEnd > end) after.push({ ...seg, text: seg.text.slice(Math.max(0, end - pos)) });
    removeCount++;
    pos = segEnd;
    if (segEnd >= end) break;
  }
  segments.splice(index, removeCount, ...before, run, ...after);
}

/**
 * Parses one line of output (without its newline) into styled runs, starting from `state` and leaving in it what
 * carries to the next line. A carriage return moves back to the line's start, so that progress lines show their
 * last state; a backspace moves back one column.
 */
export function parseLine(line: string, state: AnsiState): Segment[] {
  const segments: Segment[] = [];
  let column = 0;
  let length = 0;
  let text = "";
  const flush = (): void => {
    if (text === "") return;
    const last = segments[segments.length - 1];
    if (column === length && last !== undefined && last.link === state.link && sameStyle(last.style, state.style)) {
      last.text += text;
    } else {
      write(segments, column, text, state);
    }
    column += text.length;
    length = Math.max(length, column);
    text = "";
  };
  let i = 0;
  while (i < line.length) {
    const code = line.charCodeAt(i);
    if (code === 0x1b) {
      flush();
      i = escape(line, i, state);
      continue;
    }
    if (code === 0x0d) {
      flush();
      column = 0;
    } else if (code === 0x08) {
      flush();
      column = Math.max(0, column - 1);
    } else if (code === 0x07) {
      // BEL: nothing to show.
    } else if (code === 0x09) {
      text += "\t";
    } else if (code < 0x20 || code === 0x7f || (code >= 0x80 && code <= 0x9f)) {
      text += visibleControl(code);
    } else {
      text += line[i];
    }
    i++;
  }
  flush();
  return segments;
}

function sameStyle(a: Style, b: Style): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof Style>;
  for (const key of keys) if (a[key] !== b[key]) return false;
  return true;
}

/** Consumes the escape sequence at `start` (an ESC), applying what it means to `state`; returns the index after it. */
function escape(line: string, start: number, state: AnsiState): number {
  const kind = line[start + 1];
  if (kind === "[") {
    // CSI: parameter bytes 0x30-0x3f, intermediate bytes 0x20-0x2f, one final byte 0x40-0x7e.
    let i = start + 2;
    while (i < line.length && line.charCodeAt(i) >= 0x30 && line.charCodeAt(i) <= 0x3f) i++;
    const params = line.slice(start + 2, i);
    while (i < line.length && line.charCodeAt(i) >= 0x20 && line.charCodeAt(i) <= 0x2f) i++;
    if (i >= line.length) return line.length;
    const final = line[i];
    if (final === "m" && /^[0-9;:]*$/.test(params)) state.style = applySgr(state.style, params);
    return i + 1;
  }
  if (kind === "]") {
    // OSC: up to BEL or ST (ESC \). Only OSC 8 (hyperlinks) takes effect.
    let i = start + 2;
    let end = -1;
    let next = line.length;
    for (; i < line.length; i++) {
      if (line[i] === "\x07") {
        end = i;
        next = i + 1;
        break;
      }
      if (line[i] === esc && line[i + 1] === "\\") {
        end = i;
        next = i + 2;
        break;
      }
    }
    if (end === -1) return line.length;
    const body = line.slice(start + 2, end);
    if (body.startsWith("8;")) {
      const uri = body.slice(body.indexOf(";", 2) + 1);
      if (uri === "" || body.indexOf(";", 2) === -1) delete state.link;
      else if (isWebLink(uri)) state.link = uri;
      else delete state.link;
    }
    return next;
  }
  if (kind === "P" || kind === "X" || kind === "^" || kind === "_") {
    // DCS, SOS, PM, APC: strings up to ST, dropped.
    const st = line.indexOf(`${esc}\\`, start + 2);
    return st === -1 ? line.length : st + 2;
  }
  // Two-byte escapes (ESC 7, ESC =) and charset designations (ESC ( B): dropped.
  if (kind !== undefined && "()*+-./#%".includes(kind)) return Math.min(line.length, start + 3);
  return Math.min(line.length, start + 2);
}

/** The plain text of a line's runs. */
export function plainText(segments: Segment[]): string {
  let text = "";
  for (const s of segments) text += s.text;
  return text;
}
