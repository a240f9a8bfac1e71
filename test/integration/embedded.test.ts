// The embedded agent (startAgent) with real Python workers serving the built-in demo tools.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type EmbeddedAgent, SnakepitError } from '../../src/index.js';
import { PYTHON, pidAlive, waitFor } from '../helpers/env.js';

let agent: EmbeddedAgent;

beforeAll(async () => {
  agent = await startAgent({ python: PYTHON, workers: 2 });
});
afterAll(async () => {
  const pids = agent?.workerPids() ?? [];
  await agent?.stop();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
});

async function failure(p: Promise<unknown>): Promise<SnakepitError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(SnakepitError);
    return err as SnakepitError;
  }
  throw new Error('expected the call to fail');
}

describe('embedded agent with the demo tools', () => {
  it('runs a plain call', async () => {
    expect(await agent.execute('add', { a: 1, b: 2 })).toBe(3);
    expect(await agent.execute('greet', { name: 'Ada', excited: true })).toMatch(/Ada/);
  });

  it('round-trips unicode, nested JSON and bytes unchanged', async () => {
    const value = { text: 'héllo wörld 🐍 — 日本語', nested: { list: [1, 2.5, null, true, { deep: ['x'] }], empty: {} } };
    expect(await agent.execute('echo', { value })).toEqual(value);
    const bytes = Buffer.from([0, 1, 2, 253, 254, 255]);
    const back = (await agent.execute('echo', { value: { raw: bytes } })) as { raw: Buffer };
    expect(Buffer.isBuffer(back.raw)).toBe(true);
    expect(back.raw.equals(bytes)).toBe(true);
    const rev = (await agent.execute('reverse_bytes', { data: bytes })) as Buffer;
    expect([...rev]).toEqual([...bytes].reverse());
  });

  it('streams chunks in order', async () => {
    const chunks: unknown[] = [];
    for await (const c of agent.stream('tokens', { text: 'a bb ccc' })) chunks.push(c);
    expect(chunks).toEqual([
      { token: 'a', index: 0 },
      { token: 'bb', index: 1 },
      { token: 'ccc', index: 2 },
    ]);
    // execute() on a streaming tool collects the chunks; stream() on a plain tool yields its result.
    expect(await agent.execute('tokens', { text: 'x y' })).toHaveLength(2);
    const single: unknown[] = [];
    for await (const c of agent.stream('add', { a: 2, b: 2 })) single.push(c);
    expect(single).toEqual([4]);
  });

  it('keeps a session on its worker with its own state', async () => {
    const s1 = `s-${Date.now()}`;
    const first = (await agent.execute('whoami', {}, { session: s1 })) as { pid: number; session_id: string };
    expect(first.session_id).toBe(s1);
    const counts: number[] = [];
    for (let i = 0; i < 5; i++) counts.push((await agent.execute('counter', {}, { session: s1 })) as number);
    expect(counts).toEqual([1, 2, 3, 4, 5]);
    const again = (await agent.execute('whoami', {}, { session: s1 })) as { pid: number };
    expect(again.pid).toBe(first.pid);
    // Another session has its own counter.
    expect(await agent.execute('counter', { step: 10 }, { session: `${s1}-other` })).toBe(10);
  });

  it('fails an unknown tool with TOOL_NOT_FOUND and suggests the nearest name', async () => {
    const err = await failure(agent.execute('ad', { a: 1 }));
    expect(err.code).toBe('TOOL_NOT_FOUND');
    expect(err.message).toMatch(/'add'/);
  });

  it('validates arguments before the call (INVALID_ARGUMENTS names the parameter)', async () => {
    const wrongType = await failure(agent.execute('add', { a: 'x', b: 2 }));
    expect(wrongType.code).toBe('INVALID_ARGUMENTS');
    expect(wrongType.message).toMatch(/'a'/);
    const missing = await failure(agent.execute('add', { a: 1 }));
    expect(missing.code).toBe('INVALID_ARGUMENTS');
    expect(missing.message).toMatch(/'b'/);
    const unknown = await failure(agent.execute('add', { a: 1, b: 2, c: 3 }));
    expect(unknown.message).toMatch(/'c'/);
  });

  it('turns a Python exception into PYTHON_EXCEPTION with type, message and traceback', async () => {
    const err = await failure(agent.execute('fail', { message: 'kaboom ✗' }));
    expect(err.code).toBe('PYTHON_EXCEPTION');
    expect(err.type).toBe('ValueError');
    expect(err.message).toBe('kaboom ✗');
    expect(err.traceback).toMatch(/Traceback \(most recent call last\)/);
    expect(err.traceback).toMatch(/ValueError: kaboom/);
  });

  it('keeps printing tools from corrupting the protocol', async () => {
    for (let i = 0; i < 3; i++) expect(typeof (await agent.execute('noisy', {}))).toBe('string');
    expect(await agent.execute('add', { a: 40, b: 2 })).toBe(42);
  });

  it('times out a slow call with TIMEOUT and passes the deadline to Python', async () => {
    const started = Date.now();
    const err = await failure(agent.execute('sleep', { seconds: 5 }, { timeoutMs: 300 }));
    expect(err.code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('cancels a running call through an AbortSignal (CANCELLED) and the worker serves on', async () => {
    const ac = new AbortController();
    const p = agent.execute('sleep', { seconds: 5 }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 150);
    expect((await failure(p)).code).toBe('CANCELLED');
    const pre = new AbortController();
    pre.abort();
    expect((await failure(agent.execute('add', { a: 1, b: 1 }, { signal: pre.signal }))).code).toBe('CANCELLED');
    // The cancelled sleep stops early in Python, so both workers are free again soon.
    await waitFor(async () => (await agent.stats()).calls.inFlight === 0);
    expect(await agent.execute('add', { a: 1, b: 1 })).toBe(2);
  });

  it('stops a stream early when the consumer breaks', async () => {
    const text = Array.from({ length: 1000 }, (_, i) => `t${i}`).join(' ');
    let n = 0;
    for await (const _ of agent.stream('tokens', { text })) {
      if (++n === 3) break;
    }
    expect(n).toBe(3);
    expect(await agent.execute('add', { a: 1, b: 2 })).toBe(3);
  });

  it('reports stats in the documented shape', async () => {
    const s = await agent.stats();
    expect(s.agent.pid).toBe(process.pid);
    expect(s.agent.runId).toBe(agent.runId);
    expect(s.workers).toHaveLength(2);
    for (const w of s.workers) {
      expect(w).toMatchObject({ state: expect.stringMatching(/ready|busy/), restarts: expect.any(Number) });
      expect(w.rssBytes).toBeGreaterThan(1024 * 1024);
      expect(w.pid).toBeGreaterThan(0);
    }
    expect(s.calls.completed).toBeGreaterThan(5);
    expect(s.calls.failed).toBeGreaterThan(3);
    expect(s.queue.depth).toBe(0);
    expect(s.latencyMs.p99).toBeGreaterThanOrEqual(s.latencyMs.p50);
  });

  it('describes the tools from signatures and docstrings', async () => {
    const tools = await agent.tools();
    const add = tools.find((t) => t.name === 'add')!;
    expect(add.doc).toMatch(/add/i);
    expect(add.stream).toBe(false);
    expect(add.params).toEqual([
      expect.objectContaining({ name: 'a', type: 'integer', required: true }),
      expect.objectContaining({ name: 'b', type: 'integer', required: true }),
    ]);
    expect(tools.find((t) => t.name === 'tokens')!.stream).toBe(true);
    expect(tools.find((t) => t.name === 'tokens')!.params.map((p) => p.name)).toEqual(['text']);
  });
});
