// The library client (`connect`) against a real daemon: same calls and errors as embedded,
// bytes over gRPC, streaming, cancellation through AbortSignal reaching the Python tool.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type AgentClient, SnakepitError } from '../../src/index.js';
import { PYTHON, killPids, pidAlive, runCli, tempDir, waitFor } from '../helpers/env.js';

const dir = tempDir('sp-conn-');
const home = join(dir.path, 'h');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };
let client: AgentClient;
let pids: number[] = [];

beforeAll(async () => {
  const up = await runCli(['up', '--home', home, '--workers', '2', '--json'], { env });
  expect(up.code, up.stderr).toBe(0);
  const info = JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8')) as { pid: number; workerPids: number[] };
  pids = [info.pid, ...info.workerPids];
  client = connect({ home });
});

afterAll(async () => {
  client?.close();
  await runCli(['down', '--home', home], { env });
  killPids(pids.filter(pidAlive));
  dir.cleanup();
});

describe('connect() to a daemon', () => {
  it('executes, streams, lists tools and reads stats', async () => {
    expect(await client.execute('add', { a: 20, b: 22 })).toBe(42);
    const chunks: unknown[] = [];
    for await (const c of client.stream('tokens', { text: 'p q' })) chunks.push(c);
    expect(chunks).toEqual([{ token: 'p', index: 0 }, { token: 'q', index: 1 }]);
    expect((await client.tools()).map((t) => t.name)).toContain('reverse_bytes');
    expect((await client.stats()).workers).toHaveLength(2);
  });

  it('carries 1 MiB of binary both ways as raw bytes', async () => {
    const data = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 256;
    const back = (await client.execute('reverse_bytes', { data })) as Buffer;
    expect(back.length).toBe(data.length);
    expect(back.equals(Buffer.from(data).reverse())).toBe(true);
  });

  it('reports tool errors with code, type and traceback', async () => {
    const err = (await client.execute('fail', { message: 'remote' }).catch((e: unknown) => e)) as SnakepitError;
    expect(err).toBeInstanceOf(SnakepitError);
    expect(err).toMatchObject({ code: 'PYTHON_EXCEPTION', type: 'ValueError', message: 'remote' });
    expect(err.traceback).toMatch(/ValueError: remote/);
  });

  it('cancels a running call when its AbortSignal fires, and the worker is freed', async () => {
    const ac = new AbortController();
    const p = client.execute('sleep', { seconds: 10 }, { signal: ac.signal });
    await waitFor(async () => (await client.stats()).calls.inFlight === 1);
    ac.abort();
    expect(((await p.catch((e: unknown) => e)) as SnakepitError).code).toBe('CANCELLED');
    // The agent saw the cancellation and the tool stopped early: nothing left in flight.
    await waitFor(async () => {
      const s = await client.stats();
      return s.calls.inFlight === 0 && s.workers.every((w) => w.inFlight === 0);
    }, 5000);
  });

  it('speaks gRPC over HTTP/2 when given an address (the path remote clients and routers use)', async () => {
    const viaGrpc = connect({ address: `unix:${join(home, 'agent.sock')}` });
    try {
      expect(await viaGrpc.execute('add', { a: 2, b: 3 })).toBe(5);
      const many = await Promise.all(Array.from({ length: 50 }, (_, i) => viaGrpc.execute('add', { a: i, b: 1 })));
      expect(many).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      const chunks: unknown[] = [];
      for await (const c of viaGrpc.stream('tokens', { text: 'u v' })) chunks.push(c);
      expect(chunks).toHaveLength(2);
      const err = (await viaGrpc.execute('fail', {}).catch((e: unknown) => e)) as SnakepitError;
      expect(err).toMatchObject({ code: 'PYTHON_EXCEPTION', type: 'ValueError' });
      const data = Buffer.from([1, 2, 3]);
      expect([...((await viaGrpc.execute('reverse_bytes', { data })) as Buffer)]).toEqual([3, 2, 1]);
    } finally {
      viaGrpc.close();
    }
  });

  it('fails with AGENT_UNAVAILABLE when no agent listens at an address', async () => {
    const byAddress = connect({ address: `unix:${join(dir.path, 'nobody.sock')}` });
    try {
      expect(((await byAddress.execute('add', { a: 1, b: 2 }).catch((e: unknown) => e)) as SnakepitError).code).toBe('AGENT_UNAVAILABLE');
    } finally {
      byAddress.close();
    }
    const other = connect({ home: join(dir.path, 'nobody') });
    try {
      const err = (await other.execute('add', { a: 1, b: 2 }).catch((e: unknown) => e)) as SnakepitError;
      expect(err.code).toBe('AGENT_UNAVAILABLE');
      expect(err.message).toMatch(/snakepit up/);
    } finally {
      other.close();
    }
  });
});

describe('graceful stop', () => {
  it('lets a call in flight finish before the agent stops', async () => {
    const c = connect({ home });
    try {
      const call = c.execute('sleep', { seconds: 0.8 });
      await waitFor(async () => (await c.stats()).calls.inFlight === 1);
      const down = runCli(['down', '--home', home, '--json'], { env });
      expect(await call).toBeGreaterThanOrEqual(0.8);
      const r = await down;
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, stopped: true });
      for (const pid of pids) expect(pidAlive(pid)).toBe(false);
    } finally {
      c.close();
    }
  });
});
