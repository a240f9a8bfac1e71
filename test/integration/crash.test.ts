// Worker death: calls in flight fail with WORKER_CRASHED (never hang), the worker is replaced,
// idempotent calls are retried once, and a broken tools module fails the start with its traceback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startAgent, type EmbeddedAgent, SnakepitError } from '../../src/index.js';
import { FIXTURES, PYTHON, pidAlive, waitFor } from '../helpers/env.js';

let agent: EmbeddedAgent;

beforeAll(async () => {
  agent = await startAgent({ python: PYTHON, workers: 2, tools: join(FIXTURES, 'crash_tools.py') });
});
afterAll(async () => {
  await agent?.stop();
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as SnakepitError).code;
  }
  return 'OK';
}

describe('worker crashes', () => {
  it('fails the call in flight when its worker is SIGKILLed from outside, then replaces the worker', async () => {
    const before = await agent.stats();
    const call = agent.execute('hang', { seconds: 30 });
    await waitFor(async () => (await agent.stats()).calls.inFlight === 1);
    const busy = (await agent.stats()).workers.find((w) => w.inFlight === 1)!;
    process.kill(busy.pid, 'SIGKILL');
    const err = await call.catch((e: SnakepitError) => e);
    expect((err as SnakepitError).code).toBe('WORKER_CRASHED');
    expect((err as SnakepitError).message).toMatch(/SIGKILL/);
    await waitFor(async () => {
      const s = await agent.stats();
      return s.workers.every((w) => w.state === 'ready') && s.workers.some((w) => w.restarts > 0);
    });
    const after = await agent.stats();
    expect(after.workers.find((w) => w.id === busy.id)!.pid).not.toBe(busy.pid);
    expect(pidAlive(busy.pid)).toBe(false);
    expect(after.workers.reduce((n, w) => n + w.restarts, 0)).toBe(before.workers.reduce((n, w) => n + w.restarts, 0) + 1);
    expect(typeof (await agent.execute('pid'))).toBe('number');
  });

  it('fails a call whose tool kills its own worker with WORKER_CRASHED', async () => {
    expect(await codeOf(agent.execute('die', { code: 9 }))).toBe('WORKER_CRASHED');
    expect(await codeOf(agent.execute('kill_self'))).toBe('WORKER_CRASHED');
    await waitFor(async () => (await agent.stats()).workers.every((w) => w.state === 'ready'));
  });

  it('retries an idempotent call once on another worker when its worker crashes', async () => {
    // kill_self always crashes: retried once, then the real cause is reported.
    const started = (await agent.stats()).workers.reduce((n, w) => n + w.restarts, 0);
    expect(await codeOf(agent.execute('kill_self', {}, { idempotent: true }))).toBe('WORKER_CRASHED');
    await waitFor(async () => (await agent.stats()).workers.every((w) => w.state === 'ready'));
    const restarts = (await agent.stats()).workers.reduce((n, w) => n + w.restarts, 0);
    expect(restarts - started).toBe(2);
  });
});

describe('a tools module that cannot be imported', () => {
  it('fails startAgent with WORKER_START_FAILED carrying the Python traceback', async () => {
    const err = await startAgent({ python: PYTHON, workers: 1, tools: join(FIXTURES, 'broken_tools.py') }).catch((e: SnakepitError) => e);
    expect(err).toBeInstanceOf(SnakepitError);
    expect((err as SnakepitError).code).toBe('WORKER_START_FAILED');
    expect((err as SnakepitError).message).toMatch(/this module is broken on purpose/);
    expect((err as SnakepitError).message).toMatch(/RuntimeError/);
  });

  it('rejects a missing tools file before spawning anything (CONFIG_INVALID)', async () => {
    const err = await startAgent({ python: PYTHON, workers: 1, tools: join(FIXTURES, 'nope.py') }).catch((e: SnakepitError) => e);
    expect((err as SnakepitError).code).toBe('CONFIG_INVALID');
    expect((err as SnakepitError).message).toMatch(/nope\.py/);
  });

  it('rejects bad options naming the key (CONFIG_INVALID)', async () => {
    const err = await startAgent({ python: PYTHON, workers: 0 }).catch((e: SnakepitError) => e);
    expect((err as SnakepitError).code).toBe('CONFIG_INVALID');
    expect((err as SnakepitError).message).toMatch(/'workers'/);
  });
});
