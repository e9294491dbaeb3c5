import type { ComponentChildren, RefObject } from "preact";
import { useLayoutEffect, useRef, useState } from "preact/hooks";

/** Where the rows of a virtual list are: their tops and heights in pixels. */
export interface Layout {
  count: number;
  /** Height of all rows together. */
  total: number;
  top(index: number): number;
  height(index: number): number;
  /** The row at a height (clamped to the rows). */
  indexAt(y: number): number;
}

/** Rows of one height. */
export function fixedLayout(count: number, rowHeight: number): Layout {
  return {
    count,
    total: count * rowHeight,
    top: (index) => index * rowHeight,
    height: () => rowHeight,
    indexAt: (y) => Math.max(0, Math.min(count - 1, Math.floor(y / rowHeight))),
  };
}

/** Rows of different heights, from the running sum of heights (`tops[i]` is row i's top, `tops[count]` the total). */
export function prefixLayout(tops: Float64Array, count: number): Layout {
  return {
    count,
    total: tops[count] ?? 0,
    top: (index) => tops[index] ?? 0,
    height: (index) => (tops[index + 1] ?? 0) - (tops[index] ?? 0),
    indexAt(y) {
      let low = 0;
      let high = count - 1;
      while (low < high) {
        const mid = (low + high + 1) >> 1;
        if ((tops[mid] ?? 0) <= y) low = mid;
        else high = mid - 1;
      }
      return Math.max(0, low);
    },
  };
}

/** Props of {@link VirtualList}. */
export interface VirtualListProps {
  layout: Layout;
  /** The content of row `index`. */
  row: (index: number) => ComponentChildren;
  rowKey: (index: number) => string | number;
  scroller?: RefObject<HTMLDivElement | null>;
  onScroll?: (element: HTMLDivElement) => void;
  class?: string;
  label: string;
}

const overscanPx = 600;

/**
 * A scrolling list that renders only the rows in view (and some around them), so that 100 000 rows scroll as
 * smoothly as 100: the browser lays out a few dozen elements, whatever the count.
 */
export function VirtualList({ layout, row, rowKey, scroller, onScroll, class: className, label }: VirtualListProps) {
  const own = useRef<HTMLDivElement>(null);
  const ref = scroller ?? own;
  const [view, setView] = useState({ top: 0, height: 800 });
  useLayoutEffect(() => {
    const node = ref.current;
    if (node === null) return;
    const observer = new ResizeObserver(() => setView({ top: node.scrollTop, height: node.clientHeight }));
    observer.observe(node);
    return () => observer.disconnect();
  }, [ref]);
  const rows: ComponentChildren[] = [];
  if (layout.count > 0) {
    const first = layout.indexAt(view.top - overscanPx);
    const last = layout.indexAt(view.top + view.height + overscanPx);
    for (let index = first; index <= last; index++) {
      rows.push(
        <div key={rowKey(index)} class="vrow" style={{ transform: `translateY(${layout.top(index)}px)`, height: `${layout.height(index)}px` }}>
          {row(index)}
        </div>,
      );
    }
  }
  return (
    <div
      ref={ref}
      class={`vscroll ${className ?? ""}`}
      tabIndex={0}
      aria-label={label}
      onScroll={(event) => {
        const node = event.currentTarget;
        setView({ top: node.scrollTop, height: node.clientHeight });
        onScroll?.(node);
      }}
    >
      <div class="vspace" style={{ height: `${layout.total}px` }}>
        {rows}
      </div>
    </div>
  );
}
