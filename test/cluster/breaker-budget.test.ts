// The router's circuit breaker and retry budget, with real agents. Calls pinned to one agent by
// label (every agent of a local cluster carries agent=<id>):
// - 20 calls that time out there (agent-caused) open its breaker: the next call is refused at the
//   router (AGENT_UNAVAILABLE, nothing sent); after 5 s one probe goes through, and its success
//   closes the breaker again. A tool's own errors never open it.
// - Calls the agent refuses with QUEUE_FULL (never run, so retryable) are retried only while the
//   retry budget (10 tokens, 0.1 back per success) allows: a failing agent sees ~10 % extra load.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnakepitError } from '../../src/index.js';
import { startCluster, type Cluster } from './helpers.js';

const codeOf = (p: Promise<unknown>): Promise<string> => p.then(() => 'OK', (e: SnakepitError) => e.code);
const on = (agent: string) => ({ require: { agent } });

describe('the circuit breaker of an agent', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await startCluster(['--agents', '2', '--workers', '1']);
  });
  afterAll(async () => {
    await c?.stop();
  });
  const breakerOf = async (id: string): Promise<string> => (await c.client.stats()).agents!.find((a) => a.id === id)!.breaker;

  it('ignores a tool’s own errors', async () => {
    for (let i = 0; i < 25; i++) expect(await codeOf(c.client.execute('fail', { message: 'mine' }, on('agent-1')))).toBe('PYTHON_EXCEPTION');
    expect(await breakerOf('agent-1')).toBe('closed');
  });

  it('opens on agent-caused failures, refuses at once, lets one probe through after 5 s, closes on its success', async () => {
    for (let i = 0; i < 20; i++) expect(await codeOf(c.client.execute('sleep', { seconds: 1 }, { ...on('agent-2'), timeoutMs: 30 }))).toBe('TIMEOUT');
    expect(await breakerOf('agent-2')).toBe('open');
    const t0 = Date.now();
    const refused = (await c.client.execute('add', { a: 1, b: 1 }, on('agent-2')).catch((e: unknown) => e)) as SnakepitError;
    expect(refused.code).toBe('AGENT_UNAVAILABLE');
    expect(refused.message).toMatch(/breaker/);
    expect(Date.now() - t0).toBeLessThan(200);
    // Other agents are not affected.
    expect(await c.client.execute('add', { a: 1, b: 1 }, on('agent-1'))).toBe(2);
    await new Promise((r) => setTimeout(r, 5_100));
    expect(await breakerOf('agent-2')).toBe('half-open');
    expect(await c.client.execute('add', { a: 2, b: 2 }, on('agent-2'))).toBe(4);
    expect(await breakerOf('agent-2')).toBe('closed');
  }, 30_000);
});

describe('the retry budget', () => {
  let c: Cluster;
  beforeAll(async () => {
    // One worker per agent, no queue, no pipelining: a busy agent refuses with QUEUE_FULL.
    c = await startCluster(['--agents', '2', '--workers', '1'], { SNAKEPIT_MAX_QUEUE: '0', SNAKEPIT_PIPELINE: '0' });
  });
  afterAll(async () => {
    await c?.stop();
  });

  it('keeps retries of calls that keep failing near 10 % of the load', async () => {
    const busy = c.client.execute('sleep', { seconds: 4 }, on('agent-1')).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    const before = (await c.client.stats()).calls.retries ?? 0;
    const codes: string[] = [];
    for (let i = 0; i < 100; i++) codes.push(await codeOf(c.client.execute('add', { a: i, b: 1 }, { ...on('agent-1'), idempotent: true })));
    const retries = ((await c.client.stats()).calls.retries ?? 0) - before;
    expect(codes.every((x) => x === 'QUEUE_FULL')).toBe(true);
    // 100 failed calls: at most about 5 retries from the full bucket plus 10 % (0.1 token per success).
    expect(retries).toBeGreaterThan(0);
    expect(retries).toBeLessThanOrEqual(15);
    // Successes elsewhere refill it: retries are allowed again.
    for (let i = 0; i < 80; i++) await c.client.execute('add', { a: i, b: 1 }, on('agent-2'));
    const refilled = (await c.client.stats()).calls.retries ?? 0;
    expect(await codeOf(c.client.execute('add', { a: 1, b: 1 }, { ...on('agent-1'), idempotent: true }))).toBe('QUEUE_FULL');
    expect((await c.client.stats()).calls.retries ?? 0).toBeGreaterThan(refilled);
    await busy;
  }, 30_000);
});
