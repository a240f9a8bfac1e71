// Failure detection of a silent agent (socket open, process alive, no heartbeat): SIGSTOP. The
// phi-accrual detector marks it down within 2 s, and then only its own sessions move (about 1/3
// with 3 agents); a 500 ms stop (a GC-like stall) never marks it down; once it runs again it takes
// calls within 1 s of its first heartbeat.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { agentOfWorker, startCluster, type Cluster } from './helpers.js';

let c: Cluster;
let stopped: number | undefined;

beforeAll(async () => {
  c = await startCluster(['--agents', '3', '--workers', '1']);
});

afterEach(() => {
  if (stopped !== undefined) process.kill(stopped, 'SIGCONT');
  stopped = undefined;
});

afterAll(async () => {
  await c?.stop();
});

type Who = { pid: number };
const owner = async (s: string): Promise<string> => (await agentOfWorker(c, ((await c.client.execute('whoami', {}, { session: s })) as Who).pid))!;

describe('a silent agent', () => {
  it('is never marked down for a 500 ms stall', async () => {
    const pid = c.agentPid('agent-1');
    const since = Date.now();
    process.kill(pid, 'SIGSTOP');
    stopped = pid;
    await new Promise((r) => setTimeout(r, 500));
    process.kill(pid, 'SIGCONT');
    stopped = undefined;
    await new Promise((r) => setTimeout(r, 1_500));
    const marks = c.events.filter((e) => e.at >= since && e.event.type === 'cluster.agent' && e.event.agent === 'agent-1');
    expect(marks.map((m) => (m.event as { state: string }).state)).not.toContain('down');
    expect((await c.client.stats()).agents!.find((a) => a.id === 'agent-1')!.state).toBe('alive');
  });

  it('is down within 2 s when stopped; only its sessions move; it serves within 1 s of its first beat again', async () => {
    const sessions = Array.from({ length: 90 }, (_, i) => `d${i}`);
    const before = new Map<string, string>();
    for (const s of sessions) before.set(s, await owner(s));
    const victim = 'agent-3';
    const pid = c.agentPid(victim);
    const at = Date.now();
    process.kill(pid, 'SIGSTOP');
    stopped = pid;
    const down = await c.nextEvent((e) => e.type === 'cluster.agent' && e.agent === victim && e.state === 'down', at, 5_000);
    expect(down.at - at).toBeLessThan(2_000);
    // Down: its sessions go elsewhere, nobody else's move.
    let moved = 0;
    for (const s of sessions) {
      const now = await owner(s);
      if (before.get(s) === victim) moved++;
      else expect(now).toBe(before.get(s));
      expect(now).not.toBe(victim);
    }
    expect(moved / sessions.length).toBeGreaterThan(1 / 3 - 0.15);
    expect(moved / sessions.length).toBeLessThan(1 / 3 + 0.15);
    const resumed = Date.now();
    process.kill(pid, 'SIGCONT');
    stopped = undefined;
    const alive = await c.nextEvent((e) => e.type === 'cluster.agent' && e.agent === victim && e.state === 'alive', resumed, 5_000);
    expect(alive.at - resumed).toBeLessThan(1_000);
    for (const s of sessions) if (before.get(s) === victim) expect(await owner(s)).toBe(victim);
  }, 30_000);
});
