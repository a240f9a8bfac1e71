// Overload and size limits with real workers: QUEUE_FULL, QUEUE_TIMEOUT and PAYLOAD_TOO_LARGE
// fail fast with their codes, and the agent keeps serving afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startAgent, type EmbeddedAgent, type SnakepitError } from '../../src/index.js';
import { FIXTURES, PYTHON } from '../helpers/env.js';

let agent: EmbeddedAgent;
beforeAll(async () => {
  agent = await startAgent({
    python: PYTHON,
    workers: 1,
    tools: join(FIXTURES, 'kinds_tools.py'),
    maxQueue: 2,
    // The queue itself is under test: no calls wait inside the worker.
    pipeline: 0,
    queueTimeoutMs: 400,
    maxPayloadBytes: 256 * 1024,
  });
});
afterAll(() => agent?.stop());

const codeOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'OK';
  } catch (err) {
    return (err as SnakepitError).code;
  }
};

describe('limits', () => {
  it('fails calls beyond maxQueue with QUEUE_FULL at once; queued calls still run', async () => {
    const running = agent.execute('big', { n: 100_000 });
    const queued = [agent.execute('untyped', { x: 1 }), agent.execute('untyped', { x: 2 })];
    expect(await codeOf(agent.execute('untyped', { x: 3 }))).toBe('QUEUE_FULL');
    expect(((await running) as Buffer).length).toBe(100_000);
    expect(await Promise.all(queued)).toEqual([[1, 3], [2, 3]]);
  });

  it('times out a call waiting too long in the queue with QUEUE_TIMEOUT', async () => {
    const { startAgent: start } = await import('../../src/index.js');
    const slow = await start({ python: PYTHON, workers: 1, queueTimeoutMs: 200, pipeline: 0 });
    try {
      const running = slow.execute('sleep', { seconds: 1.5 });
      const waiting = codeOf(slow.execute('add', { a: 1, b: 1 }));
      expect(await waiting).toBe('QUEUE_TIMEOUT');
      expect(await running).toBeGreaterThan(1);
      expect(await slow.execute('add', { a: 1, b: 1 })).toBe(2);
    } finally {
      await slow.stop();
    }
  });

  it('refuses results and arguments over maxPayloadBytes with PAYLOAD_TOO_LARGE and keeps serving', async () => {
    const result = (await agent.execute('big', { n: 1024 * 1024 }).catch((e: unknown) => e)) as SnakepitError;
    expect(result.code).toBe('PAYLOAD_TOO_LARGE');
    expect(result.message).toMatch(/limit/);
    const args = (await agent.execute('untyped', { x: Buffer.alloc(1024 * 1024) }).catch((e: unknown) => e)) as SnakepitError;
    expect(args.code).toBe('PAYLOAD_TOO_LARGE');
    expect(((await agent.execute('big', { n: 1000 })) as Buffer).length).toBe(1000);
    expect((await agent.stats()).workers[0]!.restarts).toBe(0);
  });
});
