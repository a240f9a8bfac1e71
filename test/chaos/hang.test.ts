// A hung worker (SIGSTOP) misses its heartbeats, is killed by process group and replaced; its
// idempotent call is retried on another worker.
import { describe, expect, it } from 'vitest';
import type { AgentEvent } from '../../src/index.js';
import { pidAlive, waitFor } from '../helpers/env.js';
import { chaosAgent, touched } from './helpers.js';

describe('chaos: SIGSTOP', () => {
  it('replaces a SIGSTOPped worker after missed heartbeats; its idempotent call is retried elsewhere', async () => {
    const events: AgentEvent[] = [];
    const a = await chaosAgent({ workers: 2, heartbeatMs: 100, heartbeatMisses: 3, onEvent: (e) => events.push(e) });
    const call = a.execute('nap', { seconds: 1 }, { idempotent: true });
    await waitFor(async () => (await a.stats()).calls.inFlight === 1);
    const victim = (await a.stats()).workers.find((w) => w.inFlight === 1)!.pid;
    touched.push(victim);
    process.kill(victim, 'SIGSTOP');
    const result = (await call) as number;
    expect(result).not.toBe(victim);
    await waitFor(() => !pidAlive(victim));
    expect(events.some((e) => e.type === 'worker.unhealthy' && e.pid === victim)).toBe(true);
    await waitFor(async () => (await a.stats()).workers.every((w) => w.state === 'ready'));
  });

  it('fails a non-idempotent call on the hung worker with WORKER_CRASHED, never hangs', async () => {
    const a = await chaosAgent({ workers: 1, heartbeatMs: 100, heartbeatMisses: 3 });
    const call = a.execute('nap', { seconds: 1 });
    await waitFor(async () => (await a.stats()).calls.inFlight === 1);
    const victim = (await a.stats()).workers[0]!.pid;
    touched.push(victim);
    process.kill(victim, 'SIGSTOP');
    const err = (await call.catch((e: unknown) => e)) as { code: string; message: string };
    expect(err.code).toBe('WORKER_CRASHED');
    expect(err.message).toMatch(/missed 3 heartbeats/);
  });
});
