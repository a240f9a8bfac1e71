// Calls that never ran are not failures. With pipelining, a worker holds calls it has not started
// yet; when it is SIGKILLed only the call it was running may fail (WORKER_CRASHED); the others go
// back to the queue and run elsewhere, exactly once. A ledger that the tool appends to as it
// starts is the ground truth of what ran. Both worker transports (gRPC: Debian's python3-grpcio).
// (Before: every call inside the killed worker failed, ~7 per kill here.)
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AgentOptions } from '../../src/index.js';
import { FIXTURES, PYTHON, tempDir, waitFor } from '../helpers/env.js';
import { chaosAgent, touched } from './helpers.js';

const dir = tempDir('sp-ledger-');
afterAll(() => dir.cleanup());

const transports: Array<[string, AgentOptions]> = [
  ['pipe', { python: PYTHON }],
  ['grpc', { python: '/usr/bin/python3', workerTransport: 'grpc' }],
];

describe.each(transports)('chaos: SIGKILL with pipelined calls (%s transport)', (name, transport) => {
  it('fails only calls that had started; the rest are requeued and run exactly once', async () => {
    const ledger = join(dir.path, `${name}.ledger`);
    const a = await chaosAgent({ ...transport, workers: 2, pipeline: 8, heartbeatMs: 200, tools: join(FIXTURES, 'ledger_tools.py'), env: { LEDGER: ledger } });
    let running = true;
    let next = 0;
    const ok: string[] = [];
    const failed: Array<{ token: string; code: string; message: string }> = [];
    // More callers than capacity: every worker holds pipelined calls it has not started.
    const callers = Array.from({ length: 16 }, async () => {
      while (running) {
        const token = `t${next++}`;
        await a.execute('record', { token, seconds: 0.02 }).then(
          () => ok.push(token),
          (e: Error & { code: string }) => failed.push({ token, code: e.code, message: e.message }),
        );
      }
    });
    const kills = 6;
    for (let k = 0; k < kills; k++) {
      await waitFor(async () => {
        const s = await a.stats();
        return s.workers.filter((w) => w.state === 'ready' || w.state === 'busy').length === 2 && s.workers.some((w) => w.inFlight >= 4);
      }, 15_000);
      const victim = (await a.stats()).workers.sort((x, y) => y.inFlight - x.inFlight)[0]!;
      touched.push(victim.pid);
      process.kill(victim.pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 150));
    }
    running = false;
    await Promise.all(callers);
    const ran = readFileSync(ledger, 'utf8').split('\n').filter(Boolean);
    const runs = new Map<string, number>();
    for (const t of ran) runs.set(t, (runs.get(t) ?? 0) + 1);
    // Nothing ran twice (the calls are not idempotent), every success ran once…
    expect([...runs].filter(([, n]) => n > 1)).toEqual([]);
    for (const t of ok) expect(runs.get(t), t).toBe(1);
    // …and the only failures are calls that may have started: with one call thread per worker,
    // the oldest call a worker had not answered, so at most one per kill. (That call may not have
    // reached the tool's first line yet, so it need not be in the ledger; every other call of the
    // dead worker was still waiting inside it and ran elsewhere.)
    expect(failed.map((f) => f.code), JSON.stringify(failed, null, 1)).toEqual(failed.map(() => 'WORKER_CRASHED'));
    for (const f of failed) expect(f.message).toMatch(/while running the call/);
    expect(failed.length).toBeLessThanOrEqual(kills);
    expect(ok.length).toBeGreaterThan(50);
  }, 60_000);
});

describe('chaos: SIGKILL with pipelined session calls', () => {
  const session = (affinity: 'hint' | 'strict-queue') => async () => {
    const ledger = join(dir.path, `${affinity}.ledger`);
    const a = await chaosAgent({ workers: 1, pipeline: 4, affinity, tools: join(FIXTURES, 'ledger_tools.py'), env: { LEDGER: ledger } });
    const codeOf = (p: Promise<unknown>): Promise<string> => p.then(() => 'OK', (e: { code: string }) => e.code);
    const first = codeOf(a.execute('record', { token: 'first', seconds: 5 }, { session: 's1' }));
    await waitFor(() => existsSync(ledger) && readFileSync(ledger, 'utf8').includes('first'));
    const rest = ['r1', 'r2', 'r3'].map((token) => codeOf(a.execute('record', { token, seconds: 0 }, { session: 's1', timeoutMs: 20_000 })));
    await waitFor(async () => (await a.stats()).workers[0]!.inFlight === 4);
    const victim = a.workerPids()[0]!;
    touched.push(victim);
    process.kill(victim, 'SIGKILL');
    const codes = { first: await first, rest: await Promise.all(rest) };
    const ran = readFileSync(ledger, 'utf8').split('\n').filter(Boolean);
    return { codes, ran };
  };

  it('hint: the calls the dead worker had not started run on its replacement, once', async () => {
    const { codes, ran } = await session('hint')();
    expect(codes).toEqual({ first: 'WORKER_CRASHED', rest: ['OK', 'OK', 'OK'] });
    expect(ran).toEqual(['first', 'r1', 'r2', 'r3']);
  });

  it('strict-queue: they fail with SESSION_WORKER_LOST (the session state is gone) and never run', async () => {
    const { codes, ran } = await session('strict-queue')();
    expect(codes).toEqual({ first: 'WORKER_CRASHED', rest: ['SESSION_WORKER_LOST', 'SESSION_WORKER_LOST', 'SESSION_WORKER_LOST'] });
    expect(ran).toEqual(['first']);
  });
});
