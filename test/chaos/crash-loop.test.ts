// Supervision: a worker that dies during startup again and again is restarted with exponential
// backoff, and after 5 failures in a row its pool is marked degraded (visible in stats; calls
// fail with UNAVAILABLE) instead of respawning forever.
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAgent, type AgentEvent, type EmbeddedAgent } from '../../src/index.js';
import { FIXTURES, PYTHON, tempDir, waitFor } from '../helpers/env.js';
import { codeOf } from './helpers.js';

const dir = tempDir('sp-loop-');
let agent: EmbeddedAgent | undefined;
afterAll(async () => {
  await agent?.stop();
  dir.cleanup();
});

describe('chaos: crash loop during startup', () => {
  it('backs off, then marks the pool degraded after 5 startup deaths in a row', async () => {
    const flag = join(dir.path, 'crash');
    const spawned: number[] = [];
    agent = await startAgent({
      python: PYTHON,
      workers: 1,
      tools: join(FIXTURES, 'flaky_import.py'),
      env: { CRASH_FLAG: flag },
      onEvent: (e: AgentEvent) => {
        if (e.type === 'worker.spawned') spawned.push(Date.now());
      },
    });
    const healthy = (await agent.execute('pid')) as number;
    writeFileSync(flag, '');
    process.kill(healthy, 'SIGKILL');
    await waitFor(async () => (await agent!.stats()).pools[0]!.degraded !== null, 15_000);
    const s = await agent.stats();
    expect(s.pools[0]!.degraded).toMatch(/died during startup 5 times in a row/);
    // 1 healthy start + 5 failed restarts, and no more after the pool was marked degraded.
    await new Promise((r) => setTimeout(r, 500));
    expect(spawned).toHaveLength(6);
    // Exponential backoff: the n-th gap between restarts is at least restartBackoffMs * 2^n (a
    // gap also holds the failed worker's own start time, which varies on a busy machine, so
    // gaps are compared with the backoff, not with each other).
    const gaps = spawned.slice(2).map((t, i) => t - spawned[i + 1]!);
    expect(gaps).toHaveLength(4);
    gaps.forEach((gap, n) => expect(gap).toBeGreaterThanOrEqual(100 * 2 ** n - 5));
    expect(await codeOf(agent.execute('pid'))).toBe('UNAVAILABLE');
  });
});
