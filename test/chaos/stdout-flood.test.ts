// A tool that prints 80 MiB without a newline (a `\r` progress bar) must cost the agent linear
// time and bounded memory: the output is logged in lines of at most logLineMaxBytes (the rest of
// an over-long line follows as continuations, nothing held back), and the other worker's calls
// keep being answered meanwhile. (Before: 80 MB took ~60 s and ~750 MB RSS, stalling calls 4 s.)
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/defaults.js';
import { FIXTURES } from '../helpers/env.js';
import { chaosAgent } from './helpers.js';

describe('chaos: stdout without newlines', () => {
  it('logs 80 MiB of \\r progress output in bounded lines, fast, while other calls are served', async () => {
    let logged = 0;
    let records = 0;
    let longest = 0;
    const a = await chaosAgent({
      workers: 2,
      tools: join(FIXTURES, 'flood_tools.py'),
      logger: {
        log: (_level, source, message) => {
          if (!source.endsWith(' stdout')) return;
          records++;
          logged += Buffer.byteLength(message.startsWith('… ') ? message.slice(2) : message);
          longest = Math.max(longest, Buffer.byteLength(message));
        },
      },
    });
    const baseRss = process.memoryUsage().rss;
    let peakRss = baseRss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
    let flooding = true;
    let served = 0;
    let maxGapMs = 0;
    const other = (async () => {
      let last = performance.now();
      while (flooding) {
        if (!(await a.execute('pid').then(() => true, () => false))) break;
        served++;
        const now = performance.now();
        maxGapMs = Math.max(maxGapMs, now - last);
        last = now;
      }
    })();
    const t0 = performance.now();
    let written: number;
    let seconds: number;
    try {
      written = await a.execute<number>('progress', { mb: 80 }, { timeoutMs: 30_000 });
      seconds = (performance.now() - t0) / 1000;
      // Everything but the unfinished last line reaches the log promptly.
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      flooding = false;
      await other;
      clearInterval(sampler);
    }
    expect(seconds).toBeLessThan(10);
    expect(written).toBeGreaterThan(80 * 1024 * 1024 - 65536);
    expect(logged).toBeGreaterThan(written - DEFAULTS.logLineMaxBytes);
    expect(records).toBeGreaterThanOrEqual(Math.floor(written / DEFAULTS.logLineMaxBytes) - 1);
    expect(longest).toBeLessThanOrEqual(DEFAULTS.logLineMaxBytes + 4);
    expect(served).toBeGreaterThan(10);
    expect(maxGapMs).toBeLessThan(1_000);
    expect(peakRss - baseRss).toBeLessThan(200 * 1024 * 1024);
  });
});
