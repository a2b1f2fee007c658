// What `mesh top` draws each interval: the rows of a view sorted by request rate, busiest first. Pure: the loop in
// top.ts reads the sidecars and writes the frames.
import { golden, type Row } from "./golden-metrics.ts";
import { table } from "./table.ts";
import { COLUMNS, ms, percent, type StatView } from "./views.ts";

export interface TopLine {
  columns: string[];
  rps: number;
  success: number | undefined;
  p50: number | undefined;
  p99: number | undefined;
}

/** The rows' golden signals over `seconds`, busiest first; ties (idle rows, say) in the order of their columns. */
export function topLines(rows: readonly Row[], seconds: number): TopLine[] {
  return rows
    .map(({ columns, window }) => {
      const { rps, success, p50, p99 } = golden(window, seconds);
      return { columns, rps, success, p50, p99 };
    })
    .sort((a, b) => b.rps - a.rps || a.columns.join("|").localeCompare(b.columns.join("|")));
}

export interface TopFrame {
  view: StatView;
  lines: readonly TopLine[];
  seconds: number;
  /** When the window ended, shown so a frozen screen is noticed. */
  at: Date;
  sidecars: number;
  unreachable: readonly string[];
  /** At most this many rows (the terminal's height); the rest are counted, not shown. */
  maxRows?: number;
}

/** One frame: a status line, the table, and what was left out or could not be read. */
export function formatTop(frame: TopFrame): string {
  const time = frame.at.toISOString().slice(11, 19);
  const status = `mesh top  ${time}  ${frame.sidecars} sidecar${frame.sidecars === 1 ? "" : "s"}  over ${frame.seconds.toFixed(1)} s  (by ${frame.view})`;
  const shown = frame.maxRows === undefined ? frame.lines : frame.lines.slice(0, Math.max(1, frame.maxRows));
  const rows = shown.map((line) => [
    ...line.columns,
    line.rps.toFixed(1),
    percent(line.success),
    ms(line.p50),
    ms(line.p99),
  ]);
  const body = rows.length ? table([...COLUMNS[frame.view], "rps", "success", "p50", "p99"], rows) : "no calls seen";
  const notes = [
    ...(shown.length < frame.lines.length ? [`... ${frame.lines.length - shown.length} more`] : []),
    ...(frame.unreachable.length ? [`unreachable (metrics not read): ${frame.unreachable.join(", ")}`] : []),
  ];
  return [status, "", body, ...notes].join("\n");
}

/** Cursor home and clear screen: a terminal redraws in place. */
export const CLEAR = "\x1b[H\x1b[2J";

/** A frame as written: redrawn in place on a terminal, else a block followed by a blank line (logs, pipes, tests). */
export function render(text: string, tty: boolean): string {
  return tty ? `${CLEAR}${text}\n` : `${text}\n\n`;
}
