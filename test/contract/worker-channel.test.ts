// The WorkerChannel contract: one suite, run against every worker transport through a real
// embedded agent (startAgent). Whatever carries the frames — pipes or a gRPC stream — callers
// see the same results, errors, streams, cancellation, health checks and process lifetime.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentEvent, type EmbeddedAgent, SnakepitError } from '../../src/index.js';
import { pidAlive, waitFor } from '../helpers/env.js';
import { TRANSPORTS, listenAddress, requireGrpcio } from './helpers.js';

const TOOLS = join(import.meta.dirname, 'contract_tools.py');

async function failure(p: Promise<unknown>): Promise<SnakepitError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(SnakepitError);
    return err as SnakepitError;
  }
  throw new Error('expected the call to fail');
}

describe.each(TRANSPORTS)('WorkerChannel contract over %s', (transport, python) => {
  let agent: EmbeddedAgent;
  let stopped = false;
  const events: AgentEvent[] = [];
  const logs: Array<{ level: string; source: string; message: string }> = [];
  const touched: number[] = [];

  const stats = () => agent.stats();
  const allReady = async (): Promise<boolean> => {
    const s = await stats();
    // Idle means no call on any worker either: a cancelled call can still be finishing there.
    return s.workers.length === 2 && s.workers.every((w) => w.state === 'ready' && w.inFlight === 0) && s.calls.inFlight === 0;
  };

  beforeAll(async () => {
    if (transport === 'grpc') requireGrpcio(python);
    agent = await startAgent({
      python,
      workerTransport: transport,
      tools: TOOLS,
      workers: 2,
      threads: 2,
      heartbeatMs: 100,
      heartbeatMisses: 5,
      onEvent: (e) => events.push(e),
      logger: { log: (level, source, message) => logs.push({ level, source, message }) },
    });
  });

  afterAll(async () => {
    for (const pid of touched) if (pidAlive(pid)) process.kill(pid, 'SIGCONT');
    if (!stopped) await agent?.stop();
    for (const pid of touched) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  });

  it('starts workers that announce themselves and describe their tools (READY)', async () => {
    const s = await stats();
    expect(s.workers).toHaveLength(2);
    for (const w of s.workers) {
      expect(w.state).toBe('ready');
      expect(pidAlive(w.pid)).toBe(true);
    }
    const spawned = events.filter((e): e is Extract<AgentEvent, { type: 'worker.spawned' }> => e.type === 'worker.spawned');
    expect(spawned).toHaveLength(2);
    for (const e of spawned) {
      // The transport is really the one under test.
      if (transport === 'grpc') expect(listenAddress(e.cmdline)).toMatch(/^unix:\/.*\.sock$/);
      else expect(e.cmdline).not.toContain('--transport');
    }
    expect(events.filter((e) => e.type === 'worker.ready')).toHaveLength(2);
    const tools = await agent.tools();
    const add = tools.find((t) => t.name === 'add')!;
    expect(add).toMatchObject({ stream: false, doc: expect.stringMatching(/add/i) });
    expect(add.params).toEqual([
      expect.objectContaining({ name: 'a', type: 'integer', required: true }),
      expect.objectContaining({ name: 'b', type: 'integer', required: true }),
    ]);
    expect(tools.find((t) => t.name === 'tokens')!.stream).toBe(true);
    expect(tools.find((t) => t.name === 'rendezvous')!.params.map((p) => p.name)).toEqual(['key', 'parties', 'timeout']);
  });

  it('runs a plain call', async () => {
    expect(await agent.execute('add', { a: 1, b: 2 })).toBe(3);
    expect(await agent.execute('greet', { name: 'Ada', excited: true })).toBe('Hello, Ada!');
    expect(await agent.execute('echo', {})).toBeNull();
  });

  it('round-trips unicode and nested JSON unchanged', async () => {
    const value = { text: 'héllo wörld 🐍 — 日本語 \u0000 "q" \\', nested: { list: [1, 2.5, -0.125, null, true, { deep: ['x', []] }], empty: {} }, big: 2 ** 53 - 1 };
    expect(await agent.execute('echo', { value })).toEqual(value);
  });

  it('carries bytes as blobs both ways, 1 MiB included', async () => {
    const small = Buffer.from([0, 1, 2, 253, 254, 255]);
    const back = (await agent.execute('echo', { value: { raw: small, list: [Buffer.alloc(0), Buffer.from('xyz')] } })) as { raw: Buffer; list: Buffer[] };
    expect(Buffer.isBuffer(back.raw)).toBe(true);
    expect(back.raw.equals(small)).toBe(true);
    expect(back.list.map((b) => b.toString())).toEqual(['', 'xyz']);
    const big = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 9)) & 0xff;
    const echoed = (await agent.execute('echo', { value: big })) as Buffer;
    expect(echoed.equals(big)).toBe(true);
    const reversed = (await agent.execute('reverse_bytes', { data: big })) as Buffer;
    expect(reversed.length).toBe(big.length);
    expect(reversed[0]).toBe(big[big.length - 1]);
    expect(Buffer.from(reversed).reverse().equals(big)).toBe(true);
  });

  it('refuses a result over the frame limit with PAYLOAD_TOO_LARGE, and the worker serves on', async () => {
    // A small limit: maxPayloadBytes 256 KiB gives workers a 320 KiB frame limit.
    const small = await startAgent({ python, workerTransport: transport, tools: TOOLS, workers: 1, maxPayloadBytes: 256 * 1024 });
    try {
      const pid = await small.execute('pid', {});
      expect(((await small.execute('blob_of', { size: 300 * 1024 })) as Buffer).length).toBe(300 * 1024);
      const err = await failure(small.execute('blob_of', { size: 400 * 1024 }));
      expect(err.code).toBe('PAYLOAD_TOO_LARGE');
      expect(err.message).toMatch(/blob_of/);
      expect(await small.execute('pid', {})).toBe(pid);
    } finally {
      await small.stop();
    }
  });

  it('streams chunks in order', async () => {
    const words = Array.from({ length: 200 }, (_, i) => `w${i}`);
    const chunks: Array<{ token: string; index: number }> = [];
    for await (const c of agent.stream<{ token: string; index: number }>('tokens', { text: words.join(' ') })) chunks.push(c);
    expect(chunks.map((c) => c.token)).toEqual(words);
    expect(chunks.map((c) => c.index)).toEqual(words.map((_, i) => i));
    expect(await agent.execute('tokens', { text: 'x y' })).toEqual([
      { token: 'x', index: 0 },
      { token: 'y', index: 1 },
    ]);
    const empty: unknown[] = [];
    for await (const c of agent.stream('tokens', { text: '' })) empty.push(c);
    expect(empty).toEqual([]);
  });

  it('stops a stream in Python when the consumer closes it early', async () => {
    const text = Array.from({ length: 100_000 }, (_, i) => `t${i}`).join(' ');
    let n = 0;
    for await (const _ of agent.stream('tokens', { text })) {
      if (++n === 3) break;
    }
    expect(n).toBe(3);
    await waitFor(async () => (await stats()).calls.inFlight === 0, 5_000);
    expect(await agent.execute('add', { a: 1, b: 2 })).toBe(3);
  });

  it('fails bad arguments with INVALID_ARGUMENTS naming the parameter', async () => {
    const wrongType = await failure(agent.execute('add', { a: 'x', b: 2 }));
    expect(wrongType.code).toBe('INVALID_ARGUMENTS');
    expect(wrongType.message).toMatch(/'a'/);
    const missing = await failure(agent.execute('add', { a: 1 }));
    expect(missing.code).toBe('INVALID_ARGUMENTS');
    expect(missing.message).toMatch(/'b'/);
  });

  it('fails an unknown tool with TOOL_NOT_FOUND', async () => {
    const err = await failure(agent.execute('ad', { a: 1 }));
    expect(err.code).toBe('TOOL_NOT_FOUND');
    expect(err.message).toMatch(/'add'/);
  });

  it('turns a Python exception into PYTHON_EXCEPTION with type, message and traceback', async () => {
    const err = await failure(agent.execute('fail', { message: 'kaboom ✗' }));
    expect(err.code).toBe('PYTHON_EXCEPTION');
    expect(err.type).toBe('ValueError');
    expect(err.message).toBe('kaboom ✗');
    expect(err.traceback).toMatch(/Traceback \(most recent call last\)/);
    expect(err.traceback).toMatch(/ValueError: kaboom ✗/);
  });

  it('passes the deadline to Python and fails a slow call with TIMEOUT', async () => {
    await waitFor(allReady); // a call must not queue behind an earlier test's call
    const left = (await agent.execute('deadline_left', {}, { timeoutMs: 5_000 })) as number;
    expect(left).toBeGreaterThan(3);
    expect(left).toBeLessThanOrEqual(5);
    expect(await agent.execute('deadline_left', {})).toBeNull();
    const err = await failure(agent.execute('sleep', { seconds: 5 }, { timeoutMs: 300 }));
    expect(err.code).toBe('TIMEOUT');
    // The sleep tool watches ctx.cancelled, which the deadline sets: it stops long before 5 s.
    await waitFor(async () => (await stats()).calls.inFlight === 0, 3_000);
  });

  it('cancels a running call through an AbortSignal (CANCELLED); Python stops early', async () => {
    await waitFor(allReady); // a call must not queue behind an earlier test's call
    const ac = new AbortController();
    const p = agent.execute('sleep', { seconds: 5 }, { signal: ac.signal });
    await waitFor(async () => (await stats()).calls.inFlight === 1);
    ac.abort();
    expect((await failure(p)).code).toBe('CANCELLED');
    await waitFor(async () => (await stats()).calls.inFlight === 0, 3_000);
    const pre = new AbortController();
    pre.abort();
    expect((await failure(agent.execute('add', { a: 1, b: 1 }, { signal: pre.signal }))).code).toBe('CANCELLED');
    expect(await agent.execute('add', { a: 1, b: 1 })).toBe(2);
  });

  it('relays tool log records with their call id, and keeps stdout out of the protocol', async () => {
    expect(await agent.execute('noisy', {})).toBe('ok');
    await waitFor(() => logs.some((l) => /call \d+$/.test(l.source) && /snakepit\.tool\.noisy: noisy: a log record for call \d+/.test(l.message)));
    await waitFor(() => logs.some((l) => / stdout$/.test(l.source) && l.message === 'noisy: a line on stdout'));
    expect(await agent.execute('add', { a: 40, b: 2 })).toBe(42);
  });

  it('keeps a session on its worker with its own state', async () => {
    const s1 = `s-${transport}-${Date.now()}`;
    const first = (await agent.execute('whoami', {}, { session: s1 })) as { pid: number; session_id: string; worker_id: string };
    expect(first.session_id).toBe(s1);
    expect(first.worker_id).toMatch(/\S/);
    const counts: number[] = [];
    for (let i = 0; i < 5; i++) counts.push((await agent.execute('counter', {}, { session: s1 })) as number);
    expect(counts).toEqual([1, 2, 3, 4, 5]);
    expect(((await agent.execute('whoami', {}, { session: s1 })) as { pid: number }).pid).toBe(first.pid);
    expect(await agent.execute('counter', { step: 10 }, { session: `${s1}-other` })).toBe(10);
  });

  it('runs calls concurrently on a threaded worker', async () => {
    await waitFor(allReady);
    // 2 workers × 2 threads: four calls run at once, two per process, each pair meeting at a
    // barrier that only opens if both run at the same time.
    const key = `k-${transport}-${Date.now()}`;
    const results = (await Promise.all(Array.from({ length: 4 }, () => agent.execute('rendezvous', { key, parties: 2, timeout: 10 })))) as Array<{ pid: number; passed: boolean; thread: string }>;
    expect(results.every((r) => r.passed)).toBe(true);
    const perPid = new Map<number, Set<string>>();
    for (const r of results) perPid.set(r.pid, (perPid.get(r.pid) ?? new Set()).add(r.thread));
    expect(perPid.size).toBe(2);
    for (const threads of perPid.values()) expect(threads.size).toBe(2);
  });

  it('replaces a worker that stops answering heartbeats (SIGSTOP)', async () => {
    await waitFor(allReady);
    const victim = (await stats()).workers[0]!;
    touched.push(victim.pid);
    process.kill(victim.pid, 'SIGSTOP');
    await waitFor(() => events.some((e) => e.type === 'worker.unhealthy' && e.pid === victim.pid), 5_000);
    await waitFor(() => !pidAlive(victim.pid), 5_000);
    await waitFor(async () => (await allReady()) && (await stats()).workers.find((w) => w.id === victim.id)!.pid !== victim.pid, 10_000);
    expect(await agent.execute('add', { a: 2, b: 3 })).toBe(5);
  });

  it('fails a call whose worker is killed mid-call with WORKER_CRASHED and replaces the worker', async () => {
    await waitFor(allReady);
    const restartsBefore = (await stats()).workers.reduce((n, w) => n + w.restarts, 0);
    const call = agent.execute('hang', { seconds: 30 });
    await waitFor(async () => (await stats()).calls.inFlight === 1);
    const busy = (await stats()).workers.find((w) => w.inFlight === 1)!;
    touched.push(busy.pid);
    process.kill(busy.pid, 'SIGKILL');
    const err = await failure(call);
    expect(err.code).toBe('WORKER_CRASHED');
    expect(err.message).toMatch(/SIGKILL/);
    await waitFor(async () => (await allReady()) && (await stats()).workers.find((w) => w.id === busy.id)!.pid !== busy.pid, 10_000);
    expect(pidAlive(busy.pid)).toBe(false);
    // A tool that kills its own worker fails the same way.
    expect((await failure(agent.execute('kill_self', {}))).code).toBe('WORKER_CRASHED');
    await waitFor(allReady, 10_000);
    expect((await stats()).workers.reduce((n, w) => n + w.restarts, 0)).toBe(restartsBefore + 2);
    expect(typeof (await agent.execute('pid', {}))).toBe('number');
  });

  it('stops gracefully: in-flight calls finish, then no worker process (or socket) is left', async () => {
    await waitFor(allReady);
    const pids = agent.workerPids();
    expect(pids).toHaveLength(2);
    const sockets = events
      .filter((e): e is Extract<AgentEvent, { type: 'worker.spawned' }> => e.type === 'worker.spawned')
      .map((e) => listenAddress(e.cmdline))
      .filter((a): a is string => a !== undefined)
      .map((a) => a.slice('unix:'.length));
    const inFlight = agent.execute('sleep', { seconds: 0.3 });
    await waitFor(async () => (await stats()).calls.inFlight === 1);
    stopped = true;
    await agent.stop();
    expect(await inFlight).toBeGreaterThanOrEqual(0.29);
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
    const exits = events.filter((e): e is Extract<AgentEvent, { type: 'worker.exited' }> => e.type === 'worker.exited' && pids.includes(e.pid));
    expect(exits.map((e) => [e.code, e.expected])).toEqual([
      [0, true],
      [0, true],
    ]);
    if (transport === 'grpc') expect(sockets.length).toBeGreaterThanOrEqual(2);
    for (const path of sockets) expect(existsSync(path)).toBe(false);
  });
});
