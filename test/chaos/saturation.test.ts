// Queue saturation and recycling under load: overload is refused at once with QUEUE_FULL, every
// accepted call completes, and recycling many times under load fails nothing.
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/env.js';
import { chaosAgent, codeOf } from './helpers.js';

describe('chaos: saturation', () => {
  it('accepts exactly capacity + maxQueue calls, refuses the rest with QUEUE_FULL, and completes every accepted one', async () => {
    // pipeline 0: this measures the agent's queue, so no call waits inside the worker instead.
    const a = await chaosAgent({ workers: 1, maxQueue: 50, pipeline: 0 });
    const codes = await Promise.all(Array.from({ length: 200 }, () => codeOf(a.execute('nap', { seconds: 0.002 }))));
    expect(codes.filter((c) => c === 'OK')).toHaveLength(51);
    expect(codes.filter((c) => c === 'QUEUE_FULL')).toHaveLength(149);
    const s = await a.stats();
    expect(s.calls.completed + s.calls.failed).toBe(200);
    expect(s.queue.depth).toBe(0);
    expect(await codeOf(a.execute('pid'))).toBe('OK');
  });

  it('recycles repeatedly under concurrent load with zero failed calls', async () => {
    const a = await chaosAgent({ workers: 3, maxRequests: 10, recycleJitter: 0.5 });
    // Load goes on until every worker was recycled at least twice (how many calls that takes
    // depends on how fast replacements start on this machine), 300 calls at least.
    let recycled = 0;
    const deadline = Date.now() + 20_000;
    const codes = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const out: string[] = [];
        for (let i = 0; (i < 75 || recycled < 6) && Date.now() < deadline; i++) {
          out.push(await codeOf(a.execute('nap', { seconds: 0.002 })));
          if (i % 10 === 9) recycled = (await a.stats()).pools[0]!.recycled;
        }
        return out;
      }),
    );
    expect(codes.flat().filter((c) => c !== 'OK')).toEqual([]);
    await waitFor(async () => (await a.stats()).workers.length === 3);
    const s = await a.stats();
    expect(s.pools[0]!.recycled).toBeGreaterThanOrEqual(6);
    expect(s.workers.every((w) => w.restarts === 0)).toBe(true);
  });

  it('drops a queued call whose caller went away, and the worker never runs it', async () => {
    const a = await chaosAgent({ workers: 1, pipeline: 0 });
    const busy = a.execute('nap', { seconds: 0.3 });
    const ac = new AbortController();
    const queued = codeOf(a.execute('remember', { value: 1 }, { session: 'gone', signal: ac.signal }));
    await waitFor(async () => (await a.stats()).queue.depth === 1);
    ac.abort();
    expect(await queued).toBe('CANCELLED');
    expect((await a.stats()).queue.depth).toBe(0);
    await busy;
    // Had it run, the session total would already be 1.
    expect(((await a.execute('remember', { value: 1 }, { session: 'gone' })) as { total: number }).total).toBe(1);
  });
});
