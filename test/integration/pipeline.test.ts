// Pipelining: when no worker is free, up to `pipeline` calls wait inside a busy worker instead of
// in the agent's queue; a free worker is always used first.
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startAgent, type EmbeddedAgent } from '../../src/index.js';
import { FIXTURES, PYTHON, waitFor } from '../helpers/env.js';

let agent: EmbeddedAgent | undefined;
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
});

describe('pipelining to busy workers', () => {
  it('fills free workers first, then pipelines up to the limit, then queues', async () => {
    agent = await startAgent({ python: PYTHON, workers: 2, pipeline: 2, tools: join(FIXTURES, 'pool_tools.py') });
    const a = agent;
    const calls = Array.from({ length: 7 }, () => a.execute('nap', { seconds: 0.4 }) as Promise<number>);
    await waitFor(async () => (await a.stats()).calls.inFlight === 6);
    const s = await a.stats();
    // 2 workers × (1 running + 2 pipelined) = 6 sent, the 7th waits in the agent's queue.
    expect(s.workers.map((w) => w.inFlight).sort()).toEqual([3, 3]);
    expect(s.queue.depth).toBe(1);
    const pids = await Promise.all(calls);
    expect(new Set(pids).size).toBe(2);
  });

  it('never pipelines while another worker is free', async () => {
    agent = await startAgent({ python: PYTHON, workers: 2, pipeline: 8, tools: join(FIXTURES, 'pool_tools.py') });
    const a = agent;
    const first = a.execute('nap', { seconds: 0.4 });
    await waitFor(async () => (await a.stats()).calls.inFlight === 1);
    const second = a.execute('nap', { seconds: 0.1 });
    await waitFor(async () => (await a.stats()).calls.inFlight === 2);
    expect((await a.stats()).workers.map((w) => w.inFlight).sort()).toEqual([1, 1]);
    expect(await second).not.toBe(await first);
  });
});
