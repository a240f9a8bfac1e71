// Operating a local cluster: drain one agent (its calls finish, its sessions re-home, it stops and
// stays cordoned until uncordoned), strict session affinity across agents, scale up and down, and
// `cluster down` leaving nothing behind. Real router and agent processes.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SnakepitError } from '../../src/index.js';
import { pidAlive, runCli, waitFor } from '../helpers/env.js';
import { agentOfWorker, startCluster } from './helpers.js';

type Who = { pid: number };

describe('operating a cluster', () => {
  it('drains an agent: its call finishes, nothing new goes there, it stops and stays down until uncordoned', async () => {
    const c = await startCluster(['--agents', '2', '--workers', '1']);
    try {
      const pid = c.agentPid('agent-1');
      const running = c.client.execute('sleep', { seconds: 1 }, { require: { agent: 'agent-1' } });
      await new Promise((r) => setTimeout(r, 100));
      const drain = await runCli(['cluster', 'drain', 'agent-1', '--home', c.home, '--json'], { env: c.env });
      expect(drain.code, drain.stderr).toBe(0);
      expect(JSON.parse(drain.stdout)).toMatchObject({ ok: true, agent: 'agent-1', drained: true });
      expect(await running).toBeGreaterThan(0.9); // the call in flight finished
      await waitFor(() => !pidAlive(pid), 5_000);
      // Sessions all live on agent-2 now; a call pinned to agent-1 has nowhere to go.
      for (let i = 0; i < 10; i++) expect(await agentOfWorker(c, ((await c.client.execute('whoami', {}, { session: `x${i}` })) as Who).pid)).toBe('agent-2');
      const pinned = (await c.client.execute('add', { a: 1, b: 1 }, { require: { agent: 'agent-1' } }).catch((e: unknown) => e)) as SnakepitError;
      expect(pinned.code).toBe('AGENT_UNAVAILABLE');
      // Held: not restarted by the router.
      await new Promise((r) => setTimeout(r, 1_000));
      expect((await c.client.stats()).agents!.find((a) => a.id === 'agent-1')!.state).toBe('down');
      const uncordon = await runCli(['cluster', 'uncordon', 'agent-1', '--home', c.home], { env: c.env });
      expect(uncordon.code, uncordon.stderr).toBe(0);
      await c.nextEvent((e) => e.type === 'cluster.agent' && e.agent === 'agent-1' && e.state === 'alive', Date.now() - 2_000, 15_000);
      expect(await c.client.execute('add', { a: 2, b: 3 }, { require: { agent: 'agent-1' } })).toBe(5);
    } finally {
      await c.stop();
    }
  }, 60_000);

  it('keeps strict affinity cluster-wide: a session whose agent changed fails once with SESSION_WORKER_LOST', async () => {
    const c = await startCluster(['--agents', '2', '--workers', '1'], { SNAKEPIT_AFFINITY: 'strict-queue' });
    try {
      expect(await c.client.execute('counter', {}, { session: 'strict' })).toBe(1);
      expect(await c.client.execute('counter', {}, { session: 'strict' })).toBe(2);
      const owner = (await agentOfWorker(c, ((await c.client.execute('whoami', {}, { session: 'strict' })) as Who).pid))!;
      await c.client.cordon(owner);
      const lost = (await c.client.execute('counter', {}, { session: 'strict' }).catch((e: unknown) => e)) as SnakepitError;
      expect(lost.code).toBe('SESSION_WORKER_LOST');
      // Once: the session starts afresh on its new agent.
      expect(await c.client.execute('counter', {}, { session: 'strict' })).toBe(1);
    } finally {
      await c.stop();
    }
  }, 60_000);

  it('scales up and down, and cluster down leaves no process and no agent files', async () => {
    const c = await startCluster(['--agents', '1', '--workers', '1']);
    const pids = new Set<number>([c.routerPid, c.agentPid('agent-1')]);
    try {
      const up = await runCli(['cluster', 'scale', '3', '--home', c.home, '--json'], { env: c.env });
      expect(up.code, up.stderr).toBe(0);
      expect(JSON.parse(up.stdout).agents).toEqual(['agent-1', 'agent-2', 'agent-3']);
      for (const id of ['agent-2', 'agent-3']) pids.add(c.agentPid(id));
      const status = JSON.parse((await runCli(['cluster', 'status', '--home', c.home, '--json'], { env: c.env })).stdout) as { router: { pid: number }; agents: Array<{ id: string; state: string; workerPids: number[] }> };
      expect(status.router.pid).toBe(c.routerPid);
      expect(status.agents.map((a) => a.state)).toEqual(['alive', 'alive', 'alive']);
      for (const a of status.agents) for (const w of a.workerPids) pids.add(w);
      const down = await runCli(['cluster', 'scale', '1', '--home', c.home, '--json'], { env: c.env });
      expect(JSON.parse(down.stdout).agents).toEqual(['agent-1']);
      const bye = await runCli(['cluster', 'down', '--home', c.home, '--json'], { env: c.env });
      expect(bye.code, bye.stderr).toBe(0);
      expect(JSON.parse(bye.stdout)).toMatchObject({ ok: true, stopped: true });
      for (const pid of pids) await waitFor(() => !pidAlive(pid), 10_000);
      // Logs and ids stay (like a machine id); nothing of a running agent or router does.
      const left = (dir: string): string[] => readdirSync(dir).filter((f) => !['logs', 'agent.id', 'agents'].includes(f));
      expect(left(c.home)).toEqual([]);
      for (const n of readdirSync(join(c.home, 'agents'))) expect(left(join(c.home, 'agents', n))).toEqual([]);
      expect(existsSync(join(c.home, 'agent.sock'))).toBe(false);
    } finally {
      await c.stop();
    }
  }, 60_000);
});
