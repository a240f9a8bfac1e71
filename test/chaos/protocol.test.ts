// Misbehaving workers: a worker that writes a malformed frame, or announces one larger than the
// limit, is killed and replaced; its call fails with a clear reason and the agent serves on.
import { describe, expect, it } from 'vitest';
import type { SnakepitError } from '../../src/index.js';
import { waitFor } from '../helpers/env.js';
import { chaosAgent } from './helpers.js';

describe('chaos: misbehaving workers', () => {
  it('kills a worker that writes a malformed frame: the call fails clearly, the agent serves on', async () => {
    const a = await chaosAgent({ workers: 1 });
    const err = (await a.execute('garbage').catch((e: unknown) => e)) as SnakepitError;
    expect(err.code).toBe('WORKER_CRASHED');
    expect(err.message).toMatch(/malformed frame/);
    await waitFor(async () => (await a.stats()).workers[0]!.state === 'ready');
    expect(typeof (await a.execute('pid'))).toBe('number');
  });

  it('kills a worker that announces an oversized frame', async () => {
    const a = await chaosAgent({ workers: 1, maxPayloadBytes: 1024 * 1024 });
    const err = (await a.execute('oversized').catch((e: unknown) => e)) as SnakepitError;
    expect(err.code).toBe('WORKER_CRASHED');
    expect(err.message).toMatch(/exceeds the limit/);
    await waitFor(async () => (await a.stats()).workers[0]!.state === 'ready');
    expect(typeof (await a.execute('pid'))).toBe('number');
  });
});
