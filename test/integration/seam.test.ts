// The seam of the Agent API (src/api/agent-api.ts): the server and the local lane serve any
// implementation, and the one client wrapper drives any implementation. Here the served thing is
// not an Agent but a RemoteAgent of a real daemon: a one-agent pass-through, the shape of the
// router. Calls, streams, bytes, errors (with the agent's id), tools, stats, watch and health all
// go through it unchanged, and an agent that goes away is AGENT_UNAVAILABLE.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, SnakepitError, type AgentClient, type WatchUpdate } from '../../src/index.js';
import { RemoteAgent } from '../../src/api/remote-agent.js';
import { serveAgent, type AgentServer } from '../../src/api/server.js';
import { serveLocalLane, type LocalLane } from '../../src/api/local-lane.js';
import { runCli, waitFor } from '../helpers/env.js';
import { startDaemon, type Daemon } from '../security/raw-peer.js';

const MiB = 1024 * 1024;
let daemon: Daemon;
let remote: RemoteAgent;
let server: AgentServer;
let lane: LocalLane;
let proxyHome: string;
let client: AgentClient;

beforeAll(async () => {
  daemon = await startDaemon(['--workers', '2']);
  remote = new RemoteAgent({ address: `unix:${daemon.socket}`, lane: daemon.lane, noAgent: () => new SnakepitError('AGENT_UNAVAILABLE', 'the daemon is gone') });
  proxyHome = join(daemon.dir, 'proxy');
  mkdirSync(proxyHome, { mode: 0o700 });
  server = await serveAgent(remote, `unix:${join(proxyHome, 'agent.sock')}`, {}, 64 * MiB);
  lane = await serveLocalLane(remote, join(proxyHome, 'exchange.sock'), 64 * MiB + 64 * 1024);
  // Through the proxy's lane (a home) for calls, its gRPC socket for the rest.
  client = connect({ home: proxyHome });
});

afterAll(async () => {
  client?.close();
  await lane?.close();
  await server?.close();
  remote?.close();
  await daemon?.stop();
});

const agentId = (): string => (JSON.parse(readFileSync(join(daemon.home, 'agent.json'), 'utf8')) as { id: string }).id;

describe('the Agent API served over a RemoteAgent (a one-agent pass-through)', () => {
  it('passes calls, streams and bytes through unchanged', async () => {
    expect(await client.execute('add', { a: 40, b: 2 })).toBe(42);
    const chunks: unknown[] = [];
    for await (const c of client.stream('tokens', { text: 'p q' })) chunks.push(c);
    expect(chunks).toEqual([{ token: 'p', index: 0 }, { token: 'q', index: 1 }]);
    const data = Buffer.alloc(MiB, 9);
    data[0] = 1;
    const back = (await client.execute('reverse_bytes', { data })) as Buffer;
    expect(back.length).toBe(MiB);
    expect(back[MiB - 1]).toBe(1);
  });

  it('reports errors with their code and the id of the agent they came from', async () => {
    const err = (await client.execute('fail', { message: 'far away' }).catch((e: unknown) => e)) as SnakepitError;
    expect(err.code).toBe('PYTHON_EXCEPTION');
    expect(err.message).toMatch(/far away/);
    expect(err.agent).toBe(agentId());
    const unknown = (await client.execute('nope').catch((e: unknown) => e)) as SnakepitError;
    expect(unknown.code).toBe('TOOL_NOT_FOUND');
    expect(unknown.agent).toBe(agentId());
  });

  it('answers tools, stats (with the agent id) and watch through the pass-through', async () => {
    expect((await client.tools()).map((t) => t.name)).toContain('reverse_bytes');
    const stats = await client.stats();
    expect(stats.agent.id).toBe(agentId());
    expect(stats.agent.pid).toBe(daemon.pid);
    const seen: WatchUpdate[] = [];
    const it = client.watch({ intervalMs: 100 });
    void (async () => {
      for await (const u of it) seen.push(u);
    })();
    await waitFor(() => seen.some((u) => u.type === 'stats'), 5_000);
    await client.restartWorker('default-0');
    await waitFor(() => seen.some((u) => u.type === 'event' && u.event.type === 'worker.recycled'), 10_000);
    const recycled = seen.find((u) => u.type === 'event' && u.event.type === 'worker.recycled') as { event: { agent?: string } };
    expect(recycled.event.agent).toBe(agentId());
    await it.return?.();
  });

  it('keeps the agent id of a home across restarts', async () => {
    const first = agentId();
    const down = await runCli(['down', '--home', daemon.home], { env: daemon.env });
    expect(down.code, down.stderr).toBe(0);
    expect(readFileSync(join(daemon.home, 'agent.id'), 'utf8').trim()).toBe(first);
    // With the daemon gone, the pass-through says so with its own code.
    const gone = (await client.execute('add', { a: 1, b: 1 }).catch((e: unknown) => e)) as SnakepitError;
    expect(gone.code).toBe('AGENT_UNAVAILABLE');
    const up = await runCli(['up', '--home', daemon.home, '--workers', '1', '--json'], { env: daemon.env });
    expect(up.code, up.stderr).toBe(0);
    daemon.pid = (JSON.parse(readFileSync(join(daemon.home, 'agent.json'), 'utf8')) as { pid: number }).pid;
    expect(agentId()).toBe(first);
    const stats = JSON.parse((await runCli(['stats', '--home', daemon.home, '--json'], { env: daemon.env })).stdout) as { agent: { id: string } };
    expect(stats.agent.id).toBe(first);
    // The pass-through reconnects to the new agent by itself.
    await waitFor(async () => (await client.execute('add', { a: 2, b: 2 }).catch(() => 0)) === 4, 10_000);
  });
});
