// SIGKILL storm under load: workers are killed one after another while idempotent calls run;
// every call still succeeds (a crashed call is retried once on another worker) and the pool
// returns to full strength.
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/env.js';
import { chaosAgent, touched } from './helpers.js';

describe('chaos: SIGKILL storm', () => {
  it('loses no idempotent call while workers are killed under load', async () => {
    const a = await chaosAgent({ workers: 3, heartbeatMs: 200 });
    let running = true;
    let done = 0;
    const failures: string[] = [];
    // Fewer callers than workers: a retried call always finds a free worker at once.
    const callers = Array.from({ length: 2 }, async () => {
      while (running) {
        await a.execute('nap', { seconds: 0.01 }, { idempotent: true }).then(
          () => done++,
          (e: Error & { code: string }) => failures.push(`${e.code}: ${e.message}`),
        );
      }
    });
    const kills = 8;
    for (let k = 0; k < kills; k++) {
      // Wait for full strength, then kill the busiest worker (most likely mid-call).
      await waitFor(async () => (await a.stats()).workers.filter((w) => w.state === 'ready' || w.state === 'busy').length === 3, 15_000);
      const victim = (await a.stats()).workers.filter((w) => w.state === 'busy').sort((x, y) => y.inFlight - x.inFlight)[0] ?? (await a.stats()).workers[0]!;
      touched.push(victim.pid);
      process.kill(victim.pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 150));
    }
    running = false;
    await Promise.all(callers);
    expect(failures).toEqual([]);
    expect(done).toBeGreaterThan(50);
    // Every killed worker is replaced (after its backoff) and the pool is back to full strength.
    await waitFor(async () => {
      const s = await a.stats();
      return s.workers.every((w) => w.state === 'ready') && s.workers.reduce((n, w) => n + w.restarts, 0) === kills;
    }, 15_000);
  });
});
