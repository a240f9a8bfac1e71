// A real local cluster (router + 3 agents of 1 worker): calls spread over the agents, sessions
// stick to one, labels pick one, and when an agent is SIGKILLed under load no idempotent call
// fails, it stops getting calls at once, only its own sessions move, and it comes back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentOfWorker, startCluster, type Cluster } from './helpers.js';

let c: Cluster;

beforeAll(async () => {
  c = await startCluster(['--agents', '3', '--workers', '1']);
});

afterAll(async () => {
  await c?.stop();
});

type Who = { pid: number };

describe('a cluster of 3 agents', () => {
  it('spreads sessionless calls over every agent', async () => {
    const before = await c.client.stats();
    await Promise.all(Array.from({ length: 300 }, (_, i) => c.client.execute('add', { a: i, b: 1 })));
    const after = await c.client.stats();
    const per = after.agents!.map((a) => (a.stats?.calls.completed ?? 0) - (before.agents!.find((b) => b.id === a.id)?.stats?.calls.completed ?? 0));
    expect(per).toHaveLength(3);
    for (const n of per) expect(n).toBeGreaterThan(30);
    expect(per.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(300);
  });

  it('keeps every call of a session on one agent, and sends labelled calls where asked', async () => {
    const owners = new Map<string, Set<string>>();
    for (let s = 0; s < 30; s++) {
      for (let k = 0; k < 3; k++) {
        const who = (await c.client.execute('whoami', {}, { session: `s${s}` })) as Who;
        const agent = (await agentOfWorker(c, who.pid))!;
        if (!owners.has(`s${s}`)) owners.set(`s${s}`, new Set());
        owners.get(`s${s}`)!.add(agent);
      }
    }
    for (const agents of owners.values()) expect(agents.size).toBe(1);
    // 30 sessions over 3 agents by rendezvous hashing: every agent owns some.
    expect(new Set([...owners.values()].map((a) => [...a][0])).size).toBe(3);
    for (let i = 0; i < 10; i++) {
      const who = (await c.client.execute('whoami', {}, { require: { agent: 'agent-2' } })) as Who;
      expect(await agentOfWorker(c, who.pid)).toBe('agent-2');
    }
    const tools = await c.client.tools();
    expect(tools.find((t) => t.name === 'add')).toMatchObject({ agents: ['agent-1', 'agent-2', 'agent-3'] });
  });

  it('moves only the sessions of a cordoned agent, and gives them back when it is uncordoned', async () => {
    const owner = async (s: string): Promise<string> => (await agentOfWorker(c, ((await c.client.execute('whoami', {}, { session: s })) as Who).pid))!;
    const sessions = Array.from({ length: 90 }, (_, i) => `m${i}`);
    const before = new Map<string, string>();
    for (const s of sessions) before.set(s, await owner(s));
    await c.client.cordon('agent-3');
    let moved = 0;
    for (const s of sessions) {
      const now = await owner(s);
      if (before.get(s) === 'agent-3') {
        expect(now).not.toBe('agent-3');
        moved++;
      } else expect(now).toBe(before.get(s));
    }
    // Rendezvous hashing: about a third of the sessions were agent-3's.
    expect(moved).toBeGreaterThan(15);
    expect(moved).toBeLessThan(45);
    await c.client.cordon('agent-3', false);
    for (const s of sessions) expect(await owner(s)).toBe(before.get(s));
  });

  it('loses no idempotent call when an agent is SIGKILLed under load, stops routing to it at once, and it rejoins', async () => {
    const victim = 'agent-2';
    const pid = c.agentPid(victim);
    let stop = false;
    const codes: string[] = [];
    const load = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (!stop) codes.push(await c.client.execute('sleep', { seconds: 0.01 }, { idempotent: true }).then(() => 'OK', (e: { code: string }) => e.code));
      }),
    );
    await new Promise((r) => setTimeout(r, 300));
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    const down = await c.nextEvent((e) => e.type === 'cluster.agent' && e.agent === victim && e.state === 'down', killedAt - 50);
    expect(down.at - killedAt).toBeLessThan(500);
    // The router restarted it: it rejoins and takes calls again, the load never stopping.
    const back = await c.nextEvent((e) => e.type === 'cluster.agent' && e.agent === victim && e.state === 'alive', killedAt, 15_000);
    expect(back.at).toBeGreaterThan(down.at);
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await load;
    expect(codes.length).toBeGreaterThan(20);
    expect(codes.filter((x) => x !== 'OK')).toEqual([]);
    const status = (await c.client.stats()).agents!.find((a) => a.id === victim)!;
    expect(status.restarts).toBe(1);
    expect(status.pid).not.toBe(pid);
    const who = (await c.client.execute('whoami', {}, { require: { agent: victim } })) as Who;
    expect(await agentOfWorker(c, who.pid)).toBe(victim);
  }, 60_000);
});
