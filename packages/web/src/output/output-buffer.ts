import { copyState, initialState, parseLine, plainText, type AnsiState, type Segment } from "./ansi.ts";

/** One of a job's output streams. */
export type StreamName = "stdout" | "stderr";

/** One line of output as the page shows it. */
export interface Line {
  /** `stream:offset`: stable while the line is in the page, and across reloads (line links). */
  key: string;
  stream: StreamName;
  /** Byte offset of the line's first byte in its stream. */
  offset: number;
  segments: Segment[];
  /** The plain text, for search and wrapping. */
  text: string;
  /** When the line arrived, for lines written while the page watched (history has no time). */
  time?: number;
  /** No newline yet: more may arrive. */
  open: boolean;
  /** The line began before the bytes the page loaded. */
  cut?: boolean;
}

/** Bounds of what one page keeps. */
export interface BufferLimits {
  /** Most lines kept; past it the oldest are dropped (trim()). */
  maxLines: number;
  /** Most characters kept, all lines together. */
  maxChars: number;
  /** A line longer than this many bytes is broken (a progress line without a newline must not grow forever). */
  maxLineBytes: number;
}

export const defaultLimits: BufferLimits = { maxLines: 100_000, maxChars: 32 * 1024 * 1024, maxLineBytes: 64 * 1024 };

interface StreamState {
  ansi: AnsiState;
  /** The ANSI state where the open line began: it is parsed again from there as it grows. */
  lineStart: AnsiState;
  pending: Uint8Array[];
  pendingBytes: number;
  lineOffset: number;
  /** The offset the next byte should have; -1 before the first chunk. */
  next: number;
  open: Line | undefined;
  /** The next line begins before the first byte loaded. */
  cut: boolean;
}

const decoder = new TextDecoder();

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const all = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

/**
 * The lines of a job's output the page holds: bytes of stdout and stderr as they arrive (each by offset), split into
 * lines, decoded as UTF-8 and parsed for terminal escapes. A bounded window: trim() drops the oldest lines past the
 * limits, and earlier output can be put back in front (prepend()).
 */
export class OutputBuffer {
  /** The lines in the order they arrived. */
  lines: Line[] = [];
  /** Grows with every change, for views that re-render. */
  version = 0;
  /** How many lines were ever added (not counting earlier ones put back): new lines since a moment. */
  added = 0;
  /** Per stream: the offset of the first byte the page holds (undefined: none yet). */
  readonly first: Record<StreamName, number | undefined> = { stdout: undefined, stderr: undefined };
  private chars = 0;
  private readonly streams: Record<StreamName, StreamState> = { stdout: this.fresh(), stderr: this.fresh() };
  readonly limits: BufferLimits;
  /** The first bytes given may begin inside a line (a window loaded from an arbitrary offset). */
  readonly cutStart: boolean;

  constructor(limits: Partial<BufferLimits> = {}, { cutStart = false }: { cutStart?: boolean } = {}) {
    this.limits = { ...defaultLimits, ...limits };
    this.cutStart = cutStart;
  }

  private fresh(): StreamState {
    return { ansi: initialState(), lineStart: initialState(), pending: [], pendingBytes: 0, lineOffset: 0, next: -1, open: undefined, cut: false };
  }

  /** Adds bytes of a stream that begin at `offset`; `time` marks the lines as live. */
  append(stream: StreamName, offset: number, data: Uint8Array, time?: number): void {
    const s = this.streams[stream];
    if (s.next !== -1 && offset < s.next) {
      // Bytes the page already has (a resumed stream): skip them.
      const skip = s.next - offset;
      if (skip >= data.length) return;
      data = data.subarray(skip);
      offset = s.next;
    }
    if (s.next === -1 || offset > s.next) {
      // The first bytes, or a gap: a new line starts here.
      this.closeOpen(stream);
      s.lineOffset = offset;
      s.pending = [];
      s.pendingBytes = 0;
      s.lineStart = copyState(s.ansi);
      if (this.first[stream] === undefined) {
        this.first[stream] = offset;
        s.cut = this.cutStart && offset > 0;
      }
    }
    s.next = offset + data.length;
    let start = 0;
    for (;;) {
      const newline = data.indexOf(0x0a, start);
      if (newline === -1) break;
      s.pending.push(data.subarray(start, newline));
      s.pendingBytes += newline - start;
      this.finishLine(stream, time);
      s.lineOffset = offset + newline + 1;
      start = newline + 1;
    }
    if (start < data.length) {
      s.pending.push(data.subarray(start));
      s.pendingBytes += data.length - start;
      if (s.pendingBytes > this.limits.maxLineBytes) {
        const end = s.lineOffset + s.pendingBytes;
        this.finishLine(stream, time);
        s.lineOffset = end;
      } else {
        this.updateOpen(stream, time);
      }
    }
    this.version++;
  }

  private decodePending(s: StreamState): { segments: Segment[]; text: string; ansi: AnsiState } {
    let text = decoder.decode(concat(s.pending, s.pendingBytes));
    if (text.endsWith("\r")) text = text.slice(0, -1);
    const ansi = copyState(s.lineStart);
    const segments = parseLine(text, ansi);
    return { segments, text: plainText(segments), ansi };
  }

  private updateOpen(stream: StreamName, time: number | undefined): void {
    const s = this.streams[stream];
    const { segments, text } = this.decodePending(s);
    if (s.open === undefined) {
      s.open = this.add(stream, s.lineOffset, segments, text, time, true);
    } else {
      this.chars += text.length - s.open.text.length;
      s.open.segments = segments;
      s.open.text = text;
      // A new object, so that views comparing lines by identity render it again.
      const index = this.lines.lastIndexOf(s.open);
      s.open = { ...s.open };
      if (index !== -1) this.lines[index] = s.open;
    }
  }

  private finishLine(stream: StreamName, time: number | undefined): void {
    const s = this.streams[stream];
    const { segments, text, ansi } = this.decodePending(s);
    s.ansi = ansi;
    s.lineStart = copyState(ansi);
    if (s.open !== undefined) {
      const index = this.lines.lastIndexOf(s.open);
      this.chars += text.length - s.open.text.length;
      const closed = { ...s.open, segments, text, open: false };
      if (index !== -1) this.lines[index] = closed;
      s.open = undefined;
    } else {
      this.add(stream, s.lineOffset, segments, text, time, false);
    }
    s.pending = [];
    s.pendingBytes = 0;
  }

  private closeOpen(stream: StreamName): void {
    const s = this.streams[stream];
    if (s.open === undefined) return;
    const index = this.lines.lastIndexOf(s.open);
    if (index !== -1) this.lines[index] = { ...s.open, open: false };
    s.open = undefined;
  }

  private add(stream: StreamName, offset: number, segments: Segment[], text: string, time: number | undefined, open: boolean): Line {
    const line: Line = { key: `${stream}:${offset}`, stream, offset, segments, text, open, ...(time === undefined ? {} : { time }) };
    const s = this.streams[stream];
    if (s.cut) {
      line.cut = true;
      s.cut = false;
    }
    this.lines.push(line);
    this.chars += text.length;
    this.added++;
    return line;
  }

  /** The next offset of a stream: where following it resumes. */
  nextOffset(stream: StreamName): number {
    return Math.max(0, this.streams[stream].next);
  }

  /** Whether the page holds more than its limits allow. */
  overLimits(): boolean {
    return this.lines.length > this.limits.maxLines || this.chars > this.limits.maxChars;
  }

  /**
   * Drops the oldest lines until the page is within its limits (a tenth more, so that it does not trim at every
   * line); returns how many were dropped.
   */
  trim(): number {
    if (!this.overLimits()) return 0;
    const keepLines = Math.floor(this.limits.maxLines * 0.9);
    const keepChars = Math.floor(this.limits.maxChars * 0.9);
    let drop = Math.max(0, this.lines.length - keepLines);
    let chars = this.chars;
    for (let i = 0; i < drop; i++) chars -= (this.lines[i] as Line).text.length;
    while (chars > keepChars && drop < this.lines.length - 1) chars -= (this.lines[drop++] as Line).text.length;
    const dropped = this.lines.splice(0, drop);
    this.chars = chars;
    for (const stream of ["stdout", "stderr"] as const) {
      const kept = this.lines.find((line) => line.stream === stream);
      const lastDropped = dropped.findLast((line) => line.stream === stream);
      if (kept !== undefined) this.first[stream] = kept.offset;
      else if (lastDropped !== undefined) this.first[stream] = this.nextOffset(stream);
    }
    this.version++;
    return drop;
  }

  /**
   * Puts the lines of an earlier window (a buffer loaded from lower offsets up to this one's first) in front.
   * Lines of it at or past this buffer's first offsets are left out.
   */
  prepend(earlier: OutputBuffer): void {
    const before = earlier.lines.filter((line) => {
      const first = this.first[line.stream];
      return first === undefined || line.offset < first;
    });
    this.lines = [...before.map((line) => ({ ...line, open: false })), ...this.lines];
    for (const line of before) this.chars += line.text.length;
    for (const stream of ["stdout", "stderr"] as const) {
      const first = earlier.first[stream];
      if (first !== undefined && (this.first[stream] === undefined || first < (this.first[stream] as number))) this.first[stream] = first;
    }
    this.version++;
  }
}
