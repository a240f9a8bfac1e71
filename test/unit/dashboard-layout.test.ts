// The dashboard's layout arithmetic and key mapping, without rendering: the live area stays
// shorter than the terminal, the worker window follows the selection (a router's two tables
// share the budget), keys map to commands.
import { describe, expect, it } from 'vitest';
import { AGENT_COLUMNS, clusterFixedLines, clusterWindows, fit, fixedLines, formatMs, formatPhi, rowWindow, sparkline, tableLine, workerWindow } from '../../src/dashboard/format.js';
import { commandFor } from '../../src/dashboard/keys.js';

const noKey = { upArrow: false, downArrow: false, home: false, end: false, pageUp: false, pageDown: false, ctrl: false, escape: false };

describe('dashboard layout', () => {
  it('shows every worker when they fit, otherwise a window plus one "more" line', () => {
    expect(workerWindow(12, 0, 24, 1)).toEqual({ start: 0, end: 12, hidden: 0 });
    const w = workerWindow(40, 0, 24, 1);
    expect(w.start).toBe(0);
    expect(w.end - w.start + 1 + fixedLines(1)).toBe(23); // rows - 1
    expect(w.hidden).toBe(40 - (w.end - w.start));
    // The window follows the selection to the end.
    const last = workerWindow(40, 39, 24, 1);
    expect(last.end).toBe(40);
    expect(last.start).toBeGreaterThan(0);
    // A tiny terminal still shows one row.
    expect(workerWindow(40, 5, 5, 1)).toMatchObject({ start: 5, end: 6 });
  });

  it('many pools are capped too', () => {
    expect(fixedLines(10)).toBe(fixedLines(3) + 1);
  });

  it('table rows stay under 80 columns; long cells are cut', () => {
    const row = tableLine(['a-very-long-worker-id-0', '4194304', 'starting', '99', '12345678', '123', '456', '1023.9 MiB', '23h59m']);
    expect(row.length + 2).toBeLessThan(80);
    expect(row.startsWith('a-very-lon… ')).toBe(true);
    expect(fit('abc', 0)).toBe('');
  });

  it("a router's view shares the budget: both tables whole when they fit, else agents get at least half", () => {
    const lines = (w: ReturnType<typeof clusterWindows>) => w.agents.end - w.agents.start + (w.agents.hidden ? 1 : 0) + Math.max(1, w.workers.end - w.workers.start + (w.workers.hidden ? 1 : 0));
    const budget = 23 - clusterFixedLines(1); // rows - 1 - fixed
    // 3 agents × 2 workers fit 80×24 whole.
    expect(clusterWindows({ total: 3, selected: 0 }, { total: 2, selected: 0 }, 24, 1)).toEqual({ agents: { start: 0, end: 3, hidden: 0 }, workers: { start: 0, end: 2, hidden: 0 } });
    // Many agents, few workers: the workers keep their rows, the agents get the rest.
    const many = clusterWindows({ total: 40, selected: 0 }, { total: 2, selected: 0 }, 24, 1);
    expect(many.workers).toEqual({ start: 0, end: 2, hidden: 0 });
    expect(lines(many)).toBe(budget);
    expect(many.agents.hidden).toBe(40 - (many.agents.end - many.agents.start));
    // Both long: at least half for the agents, the windows follow their selections.
    const both = clusterWindows({ total: 40, selected: 39 }, { total: 30, selected: 29 }, 24, 1);
    expect(both.agents.end).toBe(40);
    expect(both.workers.end).toBe(30);
    expect(both.agents.end - both.agents.start + 1).toBeGreaterThanOrEqual(Math.ceil(budget / 2));
    expect(lines(both)).toBe(budget);
    // No workers still takes its line ("no workers"); a tiny terminal still shows a row of each.
    expect(lines(clusterWindows({ total: 40, selected: 0 }, { total: 0, selected: 0 }, 24, 1))).toBe(budget);
    expect(clusterWindows({ total: 5, selected: 4 }, { total: 5, selected: 0 }, 6, 1)).toMatchObject({ agents: { start: 4, end: 5 }, workers: { start: 0, end: 1 } });
    expect(rowWindow(0, 0, 3)).toEqual({ start: 0, end: 0, hidden: 0 });
  });

  it('agent table rows stay under 80 columns; phi ∞ shows as such', () => {
    const row = tableLine(['an-agent-with-a-long-id', '4194304', 'cordoned', formatPhi(123.456), 'half-open', '999', '64', '12345'], AGENT_COLUMNS);
    expect(row.length + 2).toBeLessThan(80);
    expect(row.startsWith('an-agent-wit… ')).toBe(true);
    expect(formatPhi(1e9)).toBe('∞');
    expect(formatPhi(0.5)).toBe('0.50');
  });

  it('sparkline scales to the largest value; flat when idle', () => {
    expect(sparkline([0, 5, 10], 10)).toBe('▁▅█');
    expect(sparkline([0, 0], 10)).toBe('▁▁');
    expect(sparkline([1, 2, 3, 4], 2)).toBe('▆█');
    expect(formatMs(3)).toBe('3 ms');
    expect(formatMs(0.456)).toBe('0.46 ms');
  });

  it('keys map to commands', () => {
    expect(commandFor('', { ...noKey, downArrow: true })).toBe('down');
    expect(commandFor('', { ...noKey, upArrow: true })).toBe('up');
    expect(commandFor('r', noKey)).toBe('restart');
    expect(commandFor('d', noKey)).toBe('drain');
    expect(commandFor('q', noKey)).toBe('quit');
    expect(commandFor('c', { ...noKey, ctrl: true })).toBe('quit');
    expect(commandFor('r', { ...noKey, ctrl: true })).toBe('other');
    expect(commandFor('x', noKey)).toBe('other');
    expect(commandFor('c', noKey)).toBe('cordon');
    expect(commandFor('', { ...noKey, tab: true })).toBe('focus');
    expect(commandFor('', { ...noKey, leftArrow: true })).toBe('agents');
    expect(commandFor('', { ...noKey, rightArrow: true })).toBe('workers');
    expect(commandFor('\r', { ...noKey, return: true })).toBe('workers');
  });
});
