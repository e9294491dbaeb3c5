import type { Color, Style } from "./ansi.ts";
import type { Line } from "./output-buffer.ts";
import { highlight } from "./search.ts";

/** The xterm 256-colour palette's colours 16-255 as #rrggbb (0-15 are the theme's, as CSS classes). */
function paletteHex(n: number): string {
  if (n >= 232) {
    const level = 8 + (n - 232) * 10;
    return `rgb(${level},${level},${level})`;
  }
  const i = n - 16;
  const steps = [0, 95, 135, 175, 215, 255];
  return `rgb(${steps[Math.floor(i / 36)]},${steps[Math.floor(i / 6) % 6]},${steps[i % 6]})`;
}

function colorCss(color: Color): string | undefined {
  return typeof color === "string" ? color : color >= 16 ? paletteHex(color) : undefined;
}

/** Classes and inline colours (set through the DOM's style object, which the CSP allows) of a style. */
function styling(style: Style): { className: string; css: Record<string, string> } {
  let fg = style.fg;
  let bg = style.bg;
  const classes: string[] = [];
  if (style.inverse) {
    [fg, bg] = [bg, fg];
    if (fg === undefined) classes.push("fg-inverse");
    if (bg === undefined) classes.push("bg-inverse");
  }
  if (typeof fg === "number" && fg < 16) classes.push(`fg-${fg}`);
  if (typeof bg === "number" && bg < 16) classes.push(`bg-${bg}`);
  if (style.bold) classes.push("b");
  if (style.dim) classes.push("dim");
  if (style.italic) classes.push("i");
  if (style.underline) classes.push("u");
  if (style.strike) classes.push("s");
  const css: Record<string, string> = {};
  const fgCss = fg === undefined ? undefined : colorCss(fg);
  const bgCss = bg === undefined ? undefined : colorCss(bg);
  if (fgCss !== undefined) css.color = fgCss;
  if (bgCss !== undefined) css.backgroundColor = bgCss;
  return { className: classes.join(" "), css };
}

/**
 * A line's text: each run a text node in a span (the job's bytes never become markup), http(s) links as links that
 * open elsewhere without a referrer, search matches marked.
 */
export function LineText({ line, query }: { line: Line; query: string }) {
  const pieces = highlight(line.segments, line.text, query);
  return (
    <span class="text">
      {line.cut && <span class="cut" title="This line began before the output loaded">…</span>}
      {pieces.map((piece) => {
        const { className, css } = styling(piece.segment.style);
        const content = piece.match ? <mark>{piece.text}</mark> : piece.text;
        const link = piece.segment.link;
        return link === undefined ? (
          <span class={className} style={css}>
            {content}
          </span>
        ) : (
          <a class={className} style={css} href={new URL(link).href} target="_blank" rel="noopener noreferrer">
            {content}
          </a>
        );
      })}
    </span>
  );
}
