import type { Segment } from "./ansi.ts";

/** A piece of a line's runs, marked when it is part of a search match. */
export interface Piece {
  segment: Segment;
  text: string;
  match: boolean;
}

/** The indexes of the lines whose text contains `query`, ignoring case. */
export function findLines(lines: readonly { text: string }[], query: string): number[] {
  if (query === "") return [];
  const needle = query.toLowerCase();
  const found: number[] = [];
  for (let i = 0; i < lines.length; i++) if ((lines[i] as { text: string }).text.toLowerCase().includes(needle)) found.push(i);
  return found;
}

/** A line's runs cut at the matches of `query` (ignoring case), each piece keeping its run's style. */
export function highlight(segments: Segment[], text: string, query: string): Piece[] {
  const ranges: [number, number][] = [];
  if (query !== "") {
    const haystack = text.toLowerCase();
    const needle = query.toLowerCase();
    for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + needle.length)) ranges.push([at, at + needle.length]);
  }
  const pieces: Piece[] = [];
  let position = 0;
  let r = 0;
  for (const segment of segments) {
    const end = position + segment.text.length;
    let cursor = position;
    while (cursor < end) {
      while (r < ranges.length && (ranges[r] as [number, number])[1] <= cursor) r++;
      const range = ranges[r];
      if (range === undefined || range[0] >= end) {
        pieces.push({ segment, text: segment.text.slice(cursor - position), match: false });
        cursor = end;
      } else if (range[0] > cursor) {
        pieces.push({ segment, text: segment.text.slice(cursor - position, range[0] - position), match: false });
        cursor = range[0];
      } else {
        const stop = Math.min(end, range[1]);
        pieces.push({ segment, text: segment.text.slice(cursor - position, stop - position), match: true });
        cursor = stop;
      }
    }
    position = end;
  }
  return pieces;
}
