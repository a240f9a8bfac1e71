// The dashboard's layout arithmetic and key mapping, without rendering: the live area stays
// shorter than the terminal, the worker window follows the selection, keys map to commands.
import { describe, expect, it } from 'vitest';
import { fit, fixedLines, formatMs, sparkline, tableLine, workerWindow } from '../../src/dashboard/format.js';
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
  });
});
