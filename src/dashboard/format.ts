// Text formatting and the layout budget of the dashboard: pure functions, so the view components
// stay small and the "fits the terminal" arithmetic is tested without rendering.
import { formatDuration } from '../cli/commands/stats.js';

export { formatDuration };

const BARS = '▁▂▃▄▅▆▇█';

/** One bar per value, scaled to the largest; all-zero (or empty) history is a flat line. */
export function sparkline(values: readonly number[], width: number): string {
  const shown = values.slice(-width);
  const max = Math.max(0, ...shown);
  return shown.map((v) => (max <= 0 ? BARS[0] : BARS[Math.min(BARS.length - 1, Math.round((v / max) * (BARS.length - 1)))])).join('');
}

export function formatRate(perSecond: number): string {
  if (perSecond >= 100) return String(Math.round(perSecond));
  return perSecond.toFixed(1);
}

export function formatMs(ms: number): string {
  if (Number.isInteger(ms)) return `${ms} ms`;
  if (ms >= 100) return `${Math.round(ms)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

export function formatMiB(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** HH:MM:SS of a wall-clock time, local zone: the prefix of every event log line. */
export function clockTime(at: number): string {
  const d = new Date(at);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** Cuts a string to `width` characters, marking the cut with an ellipsis. */
export function fit(s: string, width: number): string {
  if (width <= 0) return '';
  return s.length <= width ? s : `${s.slice(0, Math.max(0, width - 1))}…`;
}

/** Columns of the worker table: header, width. With the two-character row marker a row stays
 * under 80 characters (the last cell is not padded). */
export const WORKER_COLUMNS = [
  ['WORKER', 12],
  ['PID', 8],
  ['STATE', 9],
  ['IN-FL', 6],
  ['CALLS', 8],
  ['RESTARTS', 9],
  ['RECYCLES', 9],
  ['RSS', 10],
  ['UPTIME', 7],
] as const;

/** One cell of column `column`, cut and padded to its width (a space always separates cells). */
export function cell(value: string, column: number): string {
  const width = WORKER_COLUMNS[column]?.[1] ?? 10;
  return fit(value, width - 1).padEnd(width);
}

export function tableLine(cells: readonly string[]): string {
  return cells.map((c, i) => cell(c, i)).join('').trimEnd();
}

/** Pools listed one per line; more than this become "… N more pools". */
export const MAX_POOL_LINES = 3;

/**
 * Lines of the live area other than worker rows: header, status, two rate lines, a blank, the
 * table header, a blank and the help line, plus the pool lines.
 */
export function fixedLines(pools: number): number {
  const poolLines = pools > MAX_POOL_LINES ? MAX_POOL_LINES + 1 : pools;
  return 8 + poolLines;
}

/**
 * Which worker rows fit: the live area must stay shorter than the terminal (Ink clears the whole
 * screen on every frame once it is not), so at most `rows - 1` lines in all. The window follows
 * the selection; hidden rows are summarised on one line.
 */
export function workerWindow(total: number, selected: number, rows: number, pools: number): { start: number; end: number; hidden: number } {
  const budget = Math.max(1, rows - 1 - fixedLines(pools));
  if (total <= budget) return { start: 0, end: total, hidden: 0 };
  const shown = Math.max(1, budget - 1); // one line says how many are hidden
  const start = Math.min(Math.max(0, selected - shown + 1), total - shown);
  return { start, end: start + shown, hidden: total - shown };
}
