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

/** Columns of a table: header, width (the width includes the space that separates cells). */
export type Columns = ReadonlyArray<readonly [string, number]>;

/** Columns of the worker table. With the two-character row marker a row stays under 80
 * characters (the last cell is not padded). */
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

/** Columns of a router's agent table, under 80 characters with the marker like the workers'. */
export const AGENT_COLUMNS = [
  ['AGENT', 14],
  ['PID', 8],
  ['STATE', 10],
  ['PHI', 7],
  ['BREAKER', 10],
  ['IN-FL', 7],
  ['WORKERS', 9],
  ['CALLS/S', 9],
] as const;

/** One cell of column `column`, cut and padded to its width (a space always separates cells). */
export function cell(value: string, column: number, columns: Columns = WORKER_COLUMNS): string {
  const width = columns[column]?.[1] ?? 10;
  return fit(value, width - 1).padEnd(width);
}

export function tableLine(cells: readonly string[], columns: Columns = WORKER_COLUMNS): string {
  return cells.map((c, i) => cell(c, i, columns)).join('').trimEnd();
}

/** A phi-accrual suspicion level as the agent table shows it (the router reports ∞ as 1e9). */
export function formatPhi(phi: number): string {
  return phi >= 1e9 ? '∞' : phi.toFixed(2);
}

/** Pools listed one per line; more than this become "… N more pools". */
export const MAX_POOL_LINES = 3;

function poolLines(pools: number): number {
  return pools > MAX_POOL_LINES ? MAX_POOL_LINES + 1 : pools;
}

/**
 * Lines of the live area other than worker rows: header, status, two rate lines, a blank, the
 * table header, a blank and the help line, plus the pool lines.
 */
export function fixedLines(pools: number): number {
  return 8 + poolLines(pools);
}

/**
 * The same for a router's view, other than agent and worker rows: header, status, two rate
 * lines, a blank, the agent table's header and its totals row, a blank, the caption and header of
 * the selected agent's workers, a blank and the help line, plus the pool lines.
 */
export function clusterFixedLines(pools: number): number {
  return 12 + poolLines(pools);
}

export interface RowWindow {
  start: number;
  end: number;
  hidden: number;
}

/**
 * Which of `total` rows fit in `budget` lines: all, or a window that follows the selection plus
 * one line that says how many are hidden. At least one row is always shown.
 */
export function rowWindow(total: number, selected: number, budget: number): RowWindow {
  const lines = Math.max(1, budget);
  if (total <= lines) return { start: 0, end: total, hidden: 0 };
  const shown = Math.max(1, lines - 1); // one line says how many are hidden
  const start = Math.min(Math.max(0, selected - shown + 1), total - shown);
  return { start, end: start + shown, hidden: total - shown };
}

/**
 * Which worker rows fit: the live area must stay shorter than the terminal (Ink clears the whole
 * screen on every frame once it is not), so at most `rows - 1` lines in all. The window follows
 * the selection; hidden rows are summarised on one line.
 */
export function workerWindow(total: number, selected: number, rows: number, pools: number): RowWindow {
  return rowWindow(total, selected, rows - 1 - fixedLines(pools));
}

/**
 * A router's view has two tables in the same budget. Both fit, or the agents get at least half
 * of it (more when the selected agent has few workers) and its workers the rest, each table a
 * window of its own that follows its selection.
 */
export function clusterWindows(
  agents: { total: number; selected: number },
  workers: { total: number; selected: number },
  rows: number,
  pools: number,
): { agents: RowWindow; workers: RowWindow } {
  const budget = Math.max(2, rows - 1 - clusterFixedLines(pools));
  // An empty table still takes one line ("no workers").
  const want = { agents: Math.max(1, agents.total), workers: Math.max(1, workers.total) };
  let forAgents = want.agents;
  if (want.agents + want.workers > budget) forAgents = Math.min(want.agents, Math.max(Math.ceil(budget / 2), budget - want.workers));
  const forWorkers = Math.max(1, budget - forAgents);
  return { agents: rowWindow(agents.total, agents.selected, forAgents), workers: rowWindow(workers.total, workers.selected, forWorkers) };
}
