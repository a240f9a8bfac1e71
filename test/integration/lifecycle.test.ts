// Worker lifecycle with real processes: recycling by calls / TTL / RSS without a capacity dip,
// a tool that ignores cancellation getting its worker recycled, and batched startup.
// (Crashes, hangs and misbehaving workers are in test/chaos/.)
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startAgent, type AgentEvent, type EmbeddedAgent, type SnakepitError, type PoolSettings } from '../../src/index.js';
import { FIXTURES, PYTHON, pidAlive, waitFor } from '../helpers/env.js';

let agent: EmbeddedAgent | undefined;
const stopped: number[] = [];
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  for (const pid of stopped.splice(0)) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
});

async function start(settings: PoolSettings): Promise<EmbeddedAgent> {
  agent = await startAgent({ python: PYTHON, tools: join(FIXTURES, 'pool_tools.py'), ...settings });
  return agent;
}
const codeOf = (p: Promise<unknown>): Promise<string> => p.then(() => 'OK', (e: SnakepitError) => e.code);

describe('recycling', () => {
  it('recycles after maxRequests under load with zero failed calls, counted in stats', async () => {
    const events: AgentEvent[] = [];
    const a = await startAgent({ python: PYTHON, tools: join(FIXTURES, 'pool_tools.py'), workers: 2, maxRequests: 20, recycleJitter: 0, onEvent: (e) => events.push(e) });
    agent = a;
    const pids = new Set<number>();
    // Rounds of concurrent calls; between rounds the replacements finish starting (while one
    // starts, the old worker keeps serving past its limit: capacity never dips).
    for (let round = 0; round < 8; round++) {
      await Promise.all(Array.from({ length: 30 }, () => a.execute('pid').then((p) => pids.add(p as number))));
      await waitFor(async () => (await a.stats()).workers.length === 2);
    }
    const s = await a.stats();
    expect(s.calls.failed).toBe(0);
    expect(s.calls.completed).toBe(240);
    expect(s.pools[0]!.recycled).toBeGreaterThanOrEqual(4);
    expect(s.workers.reduce((n, w) => n + w.recycles, 0)).toBe(s.pools[0]!.recycled);
    expect(pids.size).toBeGreaterThan(4);
    expect(events.filter((e) => e.type === 'worker.recycled').length).toBe(s.pools[0]!.recycled);
    // A recycle is not a crash.
    expect(s.workers.every((w) => w.restarts === 0)).toBe(true);
  });

  it('starts the replacement before the old worker stops (capacity never dips)', async () => {
    const a = await start({ workers: 1, maxRequests: 3, recycleJitter: 0 });
    const order: string[] = [];
    a.onEvent((e) => {
      if (e.type === 'worker.ready' || e.type === 'worker.exited') order.push(`${e.type}:${e.pid}`);
    });
    const first = (await a.execute('pid')) as number;
    await a.execute('pid');
    await a.execute('pid'); // third call: limit reached, recycle begins
    await waitFor(() => order.some((o) => o === `worker.exited:${first}`));
    const readyOfNext = order.findIndex((o) => o.startsWith('worker.ready:') && o !== `worker.ready:${first}`);
    expect(readyOfNext).toBeGreaterThanOrEqual(0);
    expect(readyOfNext).toBeLessThan(order.indexOf(`worker.exited:${first}`));
    expect(await a.execute('pid')).not.toBe(first);
  });

  it('recycles a worker past its ttl, and one above maxRssMb', async () => {
    const a = await start({ workers: 1, ttlMs: 300, recycleJitter: 0, heartbeatMs: 50 });
    const first = (await a.execute('pid')) as number;
    await waitFor(async () => (await a.stats()).pools[0]!.recycled >= 1);
    expect(await a.execute('pid')).not.toBe(first);
    await a.stop();

    const b = await start({ workers: 1, maxRssMb: 60, heartbeatMs: 50 });
    const big = (await b.execute('grow', { mb: 80 })) as number;
    await waitFor(async () => (await b.stats()).pools[0]!.recycled >= 1);
    await waitFor(() => !pidAlive(big));
    expect(await b.execute('pid')).not.toBe(big);
  });
});

describe('cancellation grace', () => {
  it('recycles the worker of a timed-out tool that ignores cancellation', async () => {
    const a = await start({ workers: 1, cancelGraceMs: 300 });
    const first = (await a.execute('pid')) as number;
    expect(await codeOf(a.execute('stubborn', { seconds: 30 }, { timeoutMs: 200 }))).toBe('TIMEOUT');
    await waitFor(() => !pidAlive(first), 5000);
    expect(await a.execute('pid')).not.toBe(first);
    expect((await a.stats()).pools[0]!.recycled).toBe(1);
  });
});

describe('startup', () => {
  it('starts a large pool in bounded batches', async () => {
    let starting = 0;
    let peak = 0;
    agent = await startAgent({
      python: PYTHON,
      workers: 12,
      startBatch: 3,
      onEvent: (e) => {
        if (e.type === 'worker.spawned') peak = Math.max(peak, ++starting);
        if (e.type === 'worker.ready') starting--;
      },
    });
    expect((await agent.stats()).workers.filter((w) => w.state === 'ready')).toHaveLength(12);
    expect(peak).toBe(3);
  });
});

describe('process groups', () => {
  it("reaps a tool's child when its worker is recycled or crashes, while the agent runs on", async () => {
    agent = await startAgent({ python: PYTHON, workers: 1, tools: join(FIXTURES, 'orphan_tools.py') });
    const child = (await agent.execute('spawn_grandchild', { seconds: 300 })) as number;
    stopped.push(child);
    expect(pidAlive(child)).toBe(true);
    expect(await agent.reload()).toBe(1);
    await waitFor(() => !pidAlive(child));

    const second = (await agent.execute('spawn_grandchild', { seconds: 300 })) as number;
    stopped.push(second);
    process.kill((await agent.execute('pid')) as number, 'SIGKILL');
    await waitFor(() => !pidAlive(second));
    await waitFor(async () => (await agent!.stats()).workers[0]!.state === 'ready');
  });
});
