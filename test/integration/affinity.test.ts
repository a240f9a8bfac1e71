// Session affinity modes with real workers: hint (prefer, fall back, re-home), strict-queue
// (wait for the session's worker), strict-fail-fast (WORKER_BUSY), and SESSION_WORKER_LOST.
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startAgent, type EmbeddedAgent, type SnakepitError, type PoolSettings } from '../../src/index.js';
import { FIXTURES, PYTHON, waitFor } from '../helpers/env.js';

let agent: EmbeddedAgent | undefined;
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
});

async function start(affinity: PoolSettings['affinity']): Promise<EmbeddedAgent> {
  agent = await startAgent({ python: PYTHON, workers: 2, tools: join(FIXTURES, 'pool_tools.py'), affinity, heartbeatMs: 200 });
  return agent;
}
const codeOf = (p: Promise<unknown>): Promise<string> => p.then(() => 'OK', (e: SnakepitError) => e.code);

async function killWorkerOf(a: EmbeddedAgent, session: string): Promise<number> {
  const { pid } = (await a.execute('remember', {}, { session })) as { pid: number };
  process.kill(pid, 'SIGKILL');
  await waitFor(async () => (await a.stats()).workers.every((w) => w.state === 'ready' && w.pid !== pid));
  return pid;
}

describe('affinity: hint (default)', () => {
  it('prefers the session worker, falls back to a free one when it is busy, and re-homes after a crash', async () => {
    const a = await start('hint');
    const first = (await a.execute('remember', { value: 1 }, { session: 's' })) as { pid: number };
    const busy = a.execute('nap', { seconds: 0.5 }, { session: 's' });
    await waitFor(async () => (await a.stats()).calls.inFlight === 1);
    // The session's worker is busy: hint sends the call to the other worker at once.
    const other = (await a.execute('pid', {}, { session: 's' })) as number;
    expect(other).not.toBe(first.pid);
    expect(await busy).toBe(first.pid);
    await killWorkerOf(a, 's');
    const after = (await a.execute('remember', { value: 5 }, { session: 's' })) as { total: number };
    expect(after.total).toBe(5); // re-homed on a fresh worker: state starts over, no error
  });
});

describe('affinity: strict-queue', () => {
  it('waits for the session worker even when another worker is free', async () => {
    const a = await start('strict-queue');
    const first = (await a.execute('remember', { value: 1 }, { session: 'q' })) as { pid: number };
    const busy = a.execute('nap', { seconds: 0.4 }, { session: 'q' });
    await waitFor(async () => (await a.stats()).calls.inFlight === 1);
    const waited = (await a.execute('remember', { value: 1 }, { session: 'q' })) as { pid: number; total: number };
    expect(await busy).toBe(first.pid);
    expect(waited).toEqual({ pid: first.pid, total: 2 });
  });

  it('fails a session whose worker died with SESSION_WORKER_LOST once, then starts afresh', async () => {
    const a = await start('strict-queue');
    await a.execute('remember', { value: 3 }, { session: 'lost' });
    await killWorkerOf(a, 'lost');
    expect(await codeOf(a.execute('remember', { value: 1 }, { session: 'lost' }))).toBe('SESSION_WORKER_LOST');
    expect(((await a.execute('remember', { value: 1 }, { session: 'lost' })) as { total: number }).total).toBe(1);
  });
});

describe('affinity: strict-fail-fast', () => {
  it('fails with WORKER_BUSY when the session worker is busy', async () => {
    const a = await start('strict-fail-fast');
    await a.execute('remember', {}, { session: 'f' });
    const busy = a.execute('nap', { seconds: 0.4 }, { session: 'f' });
    await waitFor(async () => (await a.stats()).calls.inFlight === 1);
    expect(await codeOf(a.execute('remember', {}, { session: 'f' }))).toBe('WORKER_BUSY');
    expect(await codeOf(a.execute('pid', {}, { session: 'g' }))).toBe('OK'); // other sessions are free to go
    await busy;
  });
});
