import { OutputStream, type Job } from "@jobexec/proto";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { cancelled, errorText, type JobClient } from "../app/client.ts";
import { formatBytes } from "../app/format.ts";
import { navigate } from "../app/router.ts";
import { formatRoute, parseLineKey, type StreamChoice } from "../app/url-state.ts";
import { fixedLayout, prefixLayout, VirtualList, type Layout } from "../app/virtual-list.tsx";
import { OutputBuffer, type Line, type StreamName } from "./output-buffer.ts";
import { LineText } from "./line-text.tsx";
import { findLines } from "./search.ts";
import { useOutputSettings } from "./settings.ts";

const lineHeight = 18;
/** Lines of each stream the view opens with: the tail, not the whole output. */
const tailLines = 5000n;
/** How much earlier output one "load earlier" reads, per stream. */
const earlierBytes = 512 * 1024;
/** Before a linked line, this much is loaded too. */
const contextBytes = 128 * 1024;
/** What is read from a linked line on (with the context before it), and by each "load later": bytes, lines in the page. */
const windowBytes = 2 * 1024 * 1024;
const windowLines = 50_000;

const streamEnum = { both: OutputStream.BOTH, stdout: OutputStream.STDOUT, stderr: OutputStream.STDERR } as const;

/** The request field that starts one stream at an offset. */
function startAt(name: StreamName, offset: number): { stdoutOffset: bigint } | { stderrOffset: bigint } {
  return name === "stdout" ? { stdoutOffset: BigInt(offset) } : { stderrOffset: BigInt(offset) };
}

function streamOf(value: OutputStream): StreamName {
  return value === OutputStream.STDERR ? "stderr" : "stdout";
}

/** Props of {@link OutputView}. */
export interface OutputViewProps {
  client: JobClient;
  job: Job;
  stream: StreamChoice;
  /** A linked line (`stream:offset`) to open at, from the address. */
  line: string | undefined;
  /** The job's status once its output ended. */
  onEnded: (job: Job) => void;
  /** A short-lived single-use address that downloads one stream's raw bytes. */
  download: (id: string, stream: StreamName) => Promise<string>;
}

/**
 * A job's output: opens at the tail and follows it live; scrolling up pauses the follow. Holds a bounded window of
 * lines (earlier ones are loaded on request), renders only the lines in view, parses terminal colours, searches.
 */
export function OutputView({ client, job, stream, line, onEnded, download }: OutputViewProps) {
  const [settings, setSettings] = useOutputSettings();
  const [, setVersion] = useState(0);
  const [state, setState] = useState<{ live: boolean; error: string }>({ live: true, error: "" });
  const [paused, setPaused] = useState(false);
  const [query, setQuery] = useState("");
  const [current, setCurrent] = useState(-1);
  const [selected, setSelected] = useState<string | undefined>(line);
  const [loadingEarlier, setLoadingEarlier] = useState(false);
  /** Output after the window opened at a linked line is not in the page. */
  const [later, setLater] = useState(false);
  const [width, setWidth] = useState(800);
  const scroller = useRef<HTMLDivElement>(null);
  const buffer = useRef(new OutputBuffer());
  const following = useRef(line === undefined);
  const autoTop = useRef(0);
  const pausedAt = useRef(0);
  const anchorPending = useRef(line);
  // Where the output opens: the line the page was opened on, read once (clicking another line's link does not load
  // the output again), or one the reader asked for ("From the start", "Open at the end"); undefined: the tail.
  const [openAt, setOpenAt] = useState(line);
  const anchor = useMemo(() => (openAt === undefined ? undefined : parseLineKey(openAt)), [openAt]);
  const initialSizes = useMemo(() => ({ stdout: Number(job.output?.stdoutBytes ?? 0n), stderr: Number(job.output?.stderrBytes ?? 0n) }), [job.id]);
  /**
   * Reads one window of a stream (`windowBytes`, or `windowLines` more lines) from an offset into `output`,
   * without following; resolves whether it reached the end of the output.
   */
  const readWindow = async (output: OutputBuffer, name: StreamName, from: number, signal: AbortSignal, onChunk: () => void): Promise<boolean> => {
    const abort = new AbortController();
    const linesBefore = output.lines.length;
    const stop = (): void => abort.abort();
    signal.addEventListener("abort", stop, { once: true });
    try {
      for await (const message of client.streamOutput({ id: job.id, stream: streamEnum[name], ...startAt(name, from) }, { signal: abort.signal })) {
        if (message.event.case !== "chunk") continue;
        output.append(name, Number(message.event.value.offset), message.event.value.data);
        onChunk();
        if (output.nextOffset(name) - from >= windowBytes || output.lines.length - linesBefore >= windowLines) return false;
      }
      return true;
    } finally {
      abort.abort();
      signal.removeEventListener("abort", stop);
    }
  };
  const scopedStream: StreamChoice = anchor === undefined || stream !== "both" ? stream : anchor.stream;
  const id = job.id;

  useEffect(() => {
    const abort = new AbortController();
    const output = new OutputBuffer({}, { cutStart: anchor !== undefined });
    buffer.current = output;
    anchorPending.current = openAt;
    following.current = anchor === undefined;
    setPaused(anchor !== undefined);
    setLater(false);
    setVersion(0);
    let frame = 0;
    const publish = (): void => {
      frame = 0;
      if (following.current && output.overLimits()) output.trim();
      setVersion(output.version);
    };
    const run = async (): Promise<void> => {
      let request: Parameters<JobClient["streamOutput"]>[0] = { id, stream: streamEnum[scopedStream], follow: true, tailLines };
      if (anchor !== undefined) {
        // A window around the linked line, not everything after it; follow on only when that reached the end.
        try {
          const whole = await readWindow(output, anchor.stream, Math.max(0, anchor.offset - contextBytes), abort.signal, () => {
            if (frame === 0) frame = requestAnimationFrame(publish);
          });
          if (!whole) {
            setState({ live: false, error: "" });
            setLater(true);
            return;
          }
        } catch (error) {
          if (!abort.signal.aborted && !cancelled(error)) setState({ live: false, error: errorText(error) });
          return;
        }
        request = { id, stream: streamEnum[anchor.stream], follow: true, ...startAt(anchor.stream, output.nextOffset(anchor.stream)) };
      }
      for (;;) {
        try {
          for await (const message of client.streamOutput(request, { signal: abort.signal })) {
            if (message.event.case === "chunk") {
              const chunk = message.event.value;
              const name = streamOf(chunk.stream);
              const offset = Number(chunk.offset);
              output.append(name, offset, chunk.data, offset >= initialSizes[name] ? Date.now() : undefined);
              if (frame === 0) frame = requestAnimationFrame(publish);
            } else if (message.event.case === "job") {
              onEnded(message.event.value);
            }
          }
          setState({ live: false, error: "" });
          return;
        } catch (error) {
          if (abort.signal.aborted || cancelled(error)) return;
          setState({ live: true, error: `${errorText(error)}; retrying` });
          await new Promise((resolve) => setTimeout(resolve, 2000));
          if (abort.signal.aborted) return;
          // Resume where the page is: nothing twice, nothing lost.
          request = { id, stream: streamEnum[scopedStream], follow: true, stdoutOffset: BigInt(output.nextOffset("stdout")), stderrOffset: BigInt(output.nextOffset("stderr")) };
        }
      }
    };
    setState({ live: true, error: "" });
    void run();
    return () => {
      abort.abort();
      cancelAnimationFrame(frame);
    };
  }, [client, id, scopedStream, anchor]); // openAt is read through anchor

  useLayoutEffect(() => {
    const node = scroller.current;
    if (node === null) return;
    const observer = new ResizeObserver(() => setWidth(node.clientWidth));
    observer.observe(node);
    return () => observer.disconnect();
  }, []);

  const lines = buffer.current.lines;
  const columns = Math.max(20, Math.floor((width - (settings.timestamps ? 140 : 48)) / 7.8));
  const layout: Layout = useMemo(() => {
    if (!settings.wrap) return fixedLayout(lines.length, lineHeight);
    const tops = new Float64Array(lines.length + 1);
    for (let i = 0; i < lines.length; i++) tops[i + 1] = (tops[i] as number) + lineHeight * Math.max(1, Math.ceil((lines[i] as Line).text.length / columns));
    return prefixLayout(tops, lines.length);
  }, [lines, lines.length, buffer.current.version, settings.wrap, columns]);
  const matches = useMemo(() => findLines(lines, query), [lines, buffer.current.version, query]);
  // The layout of the last render, for callbacks that run after the next one.
  const layoutRef = useRef(layout);
  layoutRef.current = layout;

  // Follow: keep the end in view; a linked line: bring it into view once it is loaded.
  useLayoutEffect(() => {
    const node = scroller.current;
    if (node === null) return;
    if (anchorPending.current !== undefined && anchor !== undefined) {
      const index = lines.findIndex((l) => l.stream === anchor.stream && l.offset >= anchor.offset);
      if (index !== -1) {
        node.scrollTop = Math.max(0, layout.top(index) - node.clientHeight / 3);
        autoTop.current = node.scrollTop;
        anchorPending.current = undefined;
        pausedAt.current = buffer.current.added;
      }
      return;
    }
    if (following.current) {
      node.scrollTop = node.scrollHeight;
      autoTop.current = node.scrollTop;
    }
  });

  const onScroll = (node: HTMLDivElement): void => {
    // Until a linked line is in view, scrolling is the page's own (the old lines went away), not the reader's.
    if (anchorPending.current !== undefined) return;
    const atEnd = node.scrollTop + node.clientHeight >= node.scrollHeight - lineHeight;
    if (atEnd) {
      if (!following.current) {
        following.current = true;
        setPaused(false);
      }
    } else if (following.current && node.scrollTop < autoTop.current - 2) {
      following.current = false;
      pausedAt.current = buffer.current.added;
      setPaused(true);
    }
  };
  const jumpToLatest = (): void => {
    following.current = true;
    setPaused(false);
    const node = scroller.current;
    if (node !== null) node.scrollTop = node.scrollHeight;
  };
  const showMatch = (index: number): void => {
    const target = matches[index];
    const node = scroller.current;
    if (target === undefined || node === null) return;
    setCurrent(index);
    following.current = false;
    pausedAt.current = buffer.current.added;
    setPaused(true);
    node.scrollTop = Math.max(0, layout.top(target) - node.clientHeight / 3);
  };

  const loadEarlier = async (): Promise<void> => {
    const output = buffer.current;
    setLoadingEarlier(true);
    const earlier = new OutputBuffer({}, { cutStart: true });
    const streams: StreamName[] = scopedStream === "both" ? ["stdout", "stderr"] : [scopedStream];
    try {
      for (const name of streams) {
        const first = output.first[name];
        if (first === undefined || first === 0) continue;
        const from = Math.max(0, first - earlierBytes);
        const abort = new AbortController();
        for await (const message of client.streamOutput({ id, stream: streamEnum[name], ...startAt(name, from) }, { signal: abort.signal })) {
          if (message.event.case !== "chunk") continue;
          const offset = Number(message.event.value.offset);
          const data = message.event.value.data;
          earlier.append(name, offset, data.subarray(0, Math.max(0, Math.min(data.length, first - offset))));
          if (offset + data.length >= first) {
            abort.abort();
            break;
          }
        }
      }
      // Keep the lines in view where they are.
      const node = scroller.current;
      const before = node === null ? 0 : layout.indexAt(node.scrollTop);
      const key = output.lines[before]?.key;
      output.prepend(earlier);
      following.current = false;
      setPaused(true);
      pausedAt.current = output.added;
      setVersion(output.version);
      requestAnimationFrame(() => {
        const index = output.lines.findIndex((l) => l.key === key);
        if (node !== null && index !== -1) node.scrollTop = layoutRef.current.top(index);
      });
    } catch (error) {
      if (!cancelled(error)) setState((s) => ({ ...s, error: errorText(error) }));
    } finally {
      setLoadingEarlier(false);
    }
  };

  const hidden = (scopedStream === "both" ? (["stdout", "stderr"] as const) : [scopedStream]).filter((name) => (buffer.current.first[name] ?? 0) > 0);
  const loadLater = async (): Promise<void> => {
    if (anchor === undefined) return;
    const output = buffer.current;
    setLoadingEarlier(true);
    try {
      const whole = await readWindow(output, anchor.stream, output.nextOffset(anchor.stream), new AbortController().signal, () => undefined);
      setLater(!whole);
      setVersion(output.version);
    } catch (error) {
      if (!cancelled(error)) setState((s) => ({ ...s, error: errorText(error) }));
    } finally {
      setLoadingEarlier(false);
    }
  };
  const openAtLine = (key: string | undefined): void => {
    setOpenAt(key);
    setSelected(key);
    history.replaceState(null, "", formatRoute({ page: "job", id, stream, ...(key === undefined ? {} : { line: key }) }));
  };
  const selectLine = (key: string): void => {
    setSelected(key);
    history.replaceState(null, "", formatRoute({ page: "job", id, stream, line: key }));
  };
  const fetchRaw = async (name: StreamName): Promise<void> => {
    try {
      const path = await download(id, name);
      const link = document.createElement("a");
      link.href = path;
      link.download = `${id}.${name}`;
      document.body.append(link);
      link.click();
      link.remove();
    } catch (error) {
      setState((s) => ({ ...s, error: errorText(error) }));
    }
  };
  const newLines = paused ? buffer.current.added - pausedAt.current : 0;

  return (
    <section class="output" aria-label="Output">
      <div class="toolbar" role="toolbar" aria-label="Output">
        <div class="segmented" role="group" aria-label="Streams">
          {(["both", "stdout", "stderr"] as const).map((choice) => (
            <button
              type="button"
              aria-pressed={stream === choice}
              onClick={() => {
                setOpenAt(undefined);
                navigate({ page: "job", id, stream: choice }, { replace: true });
              }}
            >
              {choice}
            </button>
          ))}
        </div>
        <form
          class="search"
          role="search"
          onSubmit={(event) => {
            event.preventDefault();
            showMatch(matches.length === 0 ? -1 : (current + 1) % matches.length);
          }}
        >
          <input
            type="search"
            aria-label="Search the output"
            placeholder="Search"
            value={query}
            onInput={(event) => {
              setQuery(event.currentTarget.value);
              setCurrent(-1);
            }}
            onKeyDown={(event) => {
              if (event.key === "Enter" && event.shiftKey) {
                event.preventDefault();
                showMatch(matches.length === 0 ? -1 : (current - 1 + matches.length) % matches.length);
              }
            }}
          />
          <span class="matches" aria-live="polite">
            {query === "" ? "" : matches.length === 0 ? "no match" : `${current === -1 ? "–" : current + 1} of ${matches.length}`}
          </span>
          <button type="button" aria-label="Previous match" disabled={matches.length === 0} onClick={() => showMatch((current - 1 + matches.length) % matches.length)}>
            ↑
          </button>
          <button type="submit" aria-label="Next match" disabled={matches.length === 0}>
            ↓
          </button>
        </form>
        <label>
          <input type="checkbox" checked={settings.wrap} onChange={(event) => setSettings({ ...settings, wrap: event.currentTarget.checked })} /> Wrap
        </label>
        <label>
          <input type="checkbox" checked={settings.timestamps} onChange={(event) => setSettings({ ...settings, timestamps: event.currentTarget.checked })} /> Times
        </label>
        <span class="downloads">
          Raw:{" "}
          <button type="button" onClick={() => void fetchRaw("stdout")}>
            stdout
          </button>{" "}
          <button type="button" onClick={() => void fetchRaw("stderr")}>
            stderr
          </button>
        </span>
      </div>
      {hidden.length > 0 && (
        <p class="notice">
          Not shown: {hidden.map((name) => `the first ${formatBytes(buffer.current.first[name] ?? 0)} of ${name}`).join(" and ")}.{" "}
          <button type="button" disabled={loadingEarlier} onClick={() => void loadEarlier()}>
            {loadingEarlier ? "Loading…" : "Load earlier"}
          </button>
          <button type="button" onClick={() => openAtLine(`${hidden[0]}:0`)}>
            From the start
          </button>
        </p>
      )}
      {anchor !== undefined && (
        <p class="notice">
          Opened at a line of {anchor.stream}
          {later ? `; not shown: what follows byte ${buffer.current.nextOffset(anchor.stream)}` : ""}.{" "}
          {later && (
            <>
              <button type="button" disabled={loadingEarlier} onClick={() => void loadLater()}>
                Load later
              </button>{" "}
            </>
          )}
          <button type="button" onClick={() => openAtLine(undefined)}>
            Open at the end
          </button>
        </p>
      )}
      {state.error !== "" && (
        <p class="error" role="alert">
          {state.error}
        </p>
      )}
      <div class="output-body" data-wrap={settings.wrap} data-times={settings.timestamps}>
        <VirtualList
          class="lines"
          label="Output lines"
          scroller={scroller}
          layout={layout}
          onScroll={onScroll}
          rowKey={(index) => (lines[index] as Line).key}
          row={(index) => {
            const l = lines[index] as Line;
            return (
              <div class={`line ${l.stream}${l.key === selected ? " selected" : ""}${matches[current] === index ? " current" : ""}`} data-key={l.key}>
                <a
                  class="gutter"
                  href={formatRoute({ page: "job", id, stream, line: l.key })}
                  title={`Link to this line (${l.stream} byte ${l.offset})`}
                  onClick={(event) => {
                    event.preventDefault();
                    selectLine(l.key);
                  }}
                >
                  {l.stream === "stderr" ? "err" : "out"}
                </a>
                {settings.timestamps && <span class="time">{l.time === undefined ? "" : new Date(l.time).toISOString().slice(11, 23)}</span>}
                <LineText line={l} query={query} />
              </div>
            );
          }}
        />
        {paused && (
          <button type="button" class="jump" onClick={jumpToLatest}>
            Jump to latest{newLines > 0 ? ` (${newLines} new)` : ""}
          </button>
        )}
      </div>
      <p class="output-status" aria-live="polite">
        {state.live ? (paused ? "Paused: scroll to the end or jump to follow again" : "Following") : later ? "More output follows (Load later)" : "End of output"} · {lines.length} lines in view
      </p>
    </section>
  );
}
