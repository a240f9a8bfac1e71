// The dashboard's reducer as plain data: snapshots, throughput history, events in the log,
// connection changes, selection bounds and the log cap; behind a router, per-agent calls/s,
// totals, the two tables' selection and whose events are whose.
import { describe, expect, it } from 'vitest';
import type { AgentStats } from '../../src/client/types.js';
import {
  HISTORY_LENGTH,
  LOG_CAP,
  NOTICE_MS,
  callRate,
  clusterAgents,
  clusterTotals,
  describeEvent,
  initialState,
  isCluster,
  reduce,
  selectedAgent,
  selectedWorker,
  selectedWorkers,
  type ClusterAgent,
  type DashboardAction,
  type DashboardState,
} from '../../src/dashboard/state.js';

function stats(o: { runId?: string; uptimeMs?: number; completed?: number; failed?: number; workers?: number; pid?: number } = {}): AgentStats {
  return {
    agent: { pid: o.pid ?? 100, version: '0.1.0', runId: o.runId ?? 'run-a', uptimeMs: o.uptimeMs ?? 1000 },
    workers: Array.from({ length: o.workers ?? 2 }, (_, i) => ({ id: `default-${i}`, pid: 200 + i, state: 'ready', requests: 0, inFlight: 0, rssBytes: 0, uptimeMs: 1000, restarts: 0, recycles: 0, pool: 'default' })),
    pools: [{ name: 'default', size: o.workers ?? 2, affinity: 'hint', degraded: null, tools: 3, recycled: 0 }],
    queue: { depth: 0 },
    calls: { completed: o.completed ?? 0, failed: o.failed ?? 0, inFlight: 0 },
    latencyMs: { p50: 1, p99: 2 },
  };
}

const run = (actions: DashboardAction[], from: DashboardState = initialState()): DashboardState => actions.reduce(reduce, from);
const snap = (o: Parameters<typeof stats>[0], at = 0): DashboardAction => ({ type: 'stats', stats: stats(o), at });

describe('dashboard state', () => {
  it('a snapshot makes the view live and logs the agent it connected to', () => {
    const s = run([snap({ pid: 42 }, 5)]);
    expect(s.connection).toBe('live');
    expect(s.stats?.agent.pid).toBe(42);
    expect(s.log.entries).toEqual([expect.objectContaining({ seq: 0, at: 5, tone: 'good', text: expect.stringContaining('connected to agent pid 42') })]);
    // The next snapshot of the same run logs nothing.
    expect(run([snap({ uptimeMs: 2000 })], s).log.entries).toHaveLength(1);
  });

  it('throughput is the calls delta over the agent uptime delta, history bounded', () => {
    let s = run([snap({ uptimeMs: 1000, completed: 10 }), snap({ uptimeMs: 1500, completed: 15, failed: 5 })]);
    expect(s.throughput).toEqual([20]); // 10 more calls (completed or failed) in 0.5 s
    for (let i = 0; i < HISTORY_LENGTH + 5; i++) s = reduce(s, snap({ uptimeMs: 2000 + i * 1000, completed: 20 + i * 2, failed: 5 }));
    expect(s.throughput).toHaveLength(HISTORY_LENGTH);
    expect(s.throughput.at(-1)).toBe(2);
  });

  it('a new agent run starts the rate over instead of producing a bogus sample', () => {
    const s = run([snap({ uptimeMs: 9000, completed: 500 }), snap({ runId: 'run-b', uptimeMs: 100, completed: 0, pid: 43 }), snap({ runId: 'run-b', uptimeMs: 1100, completed: 4, pid: 43 })]);
    expect(s.throughput).toEqual([4]);
    expect(s.log.entries.map((e) => e.text)).toEqual([expect.stringContaining('pid 100'), expect.stringContaining('pid 43')]);
  });

  it('events become log lines; spawns, expected exits and calls are left out', () => {
    const events: DashboardAction[] = [
      { type: 'event', at: 1, event: { type: 'worker.spawned', pool: 'default', worker: 'default-0', pid: 7, pgid: 7, startTime: 1, cmdline: [] } },
      { type: 'event', at: 2, event: { type: 'worker.ready', pool: 'default', worker: 'default-0', pid: 7, startupMs: 80 } },
      { type: 'event', at: 3, event: { type: 'worker.exited', pool: 'default', worker: 'default-0', pid: 7, code: null, signal: 'SIGKILL', expected: false, reason: null } },
      { type: 'event', at: 4, event: { type: 'worker.recycled', pool: 'default', worker: 'default-1', pid: 8, reason: 'restart requested' } },
      { type: 'event', at: 5, event: { type: 'worker.exited', pool: 'default', worker: 'default-1', pid: 8, code: 0, signal: null, expected: true, reason: 'recycled' } },
      { type: 'event', at: 6, event: { type: 'call.finished', pool: 'default', tool: 'add', ms: 1, code: null } },
      { type: 'event', at: 7, event: { type: 'agent.draining', deadlineMs: null } },
    ];
    const s = run(events);
    expect(s.log.entries.map((e) => [e.text, e.tone])).toEqual([
      ['worker default-0 started (pid 7, 80 ms)', 'good'],
      ['worker default-0 crashed (pid 7, SIGKILL)', 'bad'],
      ['worker default-1 recycled (pid 8): restart requested', 'info'],
      ['agent draining', 'warn'],
    ]);
    expect(s.log.entries.map((e) => e.seq)).toEqual([0, 1, 2, 3]);
    expect(describeEvent({ type: 'pool.degraded', pool: 'ml', reason: 'ImportError: x\ntraceback…' })).toEqual({ text: 'pool ml degraded: ImportError: x', tone: 'bad' });
  });

  it('losing the stream is logged once; no agent at start is "absent", not "lost"', () => {
    const absent = run([{ type: 'disconnected', reason: 'no agent', retryInMs: 250, at: 1 }, { type: 'disconnected', reason: 'no agent', retryInMs: 500, at: 2 }]);
    expect(absent).toMatchObject({ connection: 'absent', problem: 'no agent', retryInMs: 500 });
    expect(absent.log.entries).toHaveLength(0);

    const lost = run([snap({}), { type: 'disconnected', reason: 'gone', retryInMs: 250, at: 1 }, { type: 'disconnected', reason: 'gone', retryInMs: 500, at: 2 }]);
    expect(lost.connection).toBe('lost');
    expect(lost.stats).not.toBeNull(); // the last numbers stay on screen, marked stale
    expect(lost.log.entries.map((e) => e.text)).toEqual([expect.stringContaining('connected'), 'agent not reachable']);
    const back = run([snap({ uptimeMs: 5000 })], lost);
    expect(back).toMatchObject({ connection: 'live', problem: null });
    expect(back.log.entries.at(-1)?.text).toContain('reconnected to agent pid 100');
  });

  it('a notice stays a few seconds, and goes when another agent run shows up', () => {
    const s = run([snap({}, 0), { type: 'notice', text: 'default-1 restarted', tone: 'good', at: 1000 }]);
    expect(run([snap({ uptimeMs: 2000 }, 1000 + NOTICE_MS - 1)], s).notice?.text).toBe('default-1 restarted');
    expect(run([snap({ uptimeMs: 2000 }, 1000 + NOTICE_MS)], s).notice).toBeNull();
    expect(run([snap({ runId: 'run-b', uptimeMs: 10 }, 1001)], s).notice).toBeNull();
  });

  it('selection stays within the workers, also when the pool shrinks', () => {
    let s = run([snap({ workers: 3 })]);
    s = run([{ type: 'select', delta: -1 }], s);
    expect(s.selected).toBe(0);
    s = run([{ type: 'select', delta: 1 }, { type: 'select', delta: 1 }, { type: 'select', delta: 1 }], s);
    expect(s.selected).toBe(2);
    expect(selectedWorker(s)?.id).toBe('default-2');
    s = run([snap({ workers: 2, uptimeMs: 2000 })], s);
    expect(s.selected).toBe(1);
    expect(run([{ type: 'select', delta: -Infinity }], s).selected).toBe(0);
    expect(run([{ type: 'select', delta: 1 }]).selected).toBe(0); // no workers yet
  });

  it('drain asks first; a select or a disconnect cancels the question', () => {
    const asked = run([snap({}), { type: 'drain.ask' }]);
    expect(asked.confirmDrain).toBe(true);
    expect(run([{ type: 'drain.cancel' }], asked).confirmDrain).toBe(false);
    expect(run([{ type: 'select', delta: 1 }], asked).confirmDrain).toBe(false);
    expect(run([{ type: 'disconnected', reason: 'x', retryInMs: 1, at: 1 }], asked).confirmDrain).toBe(false);
    const unchanged = initialState();
    expect(reduce(unchanged, { type: 'drain.cancel' })).toBe(unchanged);
  });

  it('the log is capped: at the cap it restarts in a new epoch with the new entry only', () => {
    let s = initialState();
    for (let i = 0; i < LOG_CAP + 3; i++) s = reduce(s, { type: 'notice', text: `n${i}`, tone: 'info', at: i, log: true });
    expect(s.log.epoch).toBe(1);
    expect(s.log.entries.map((e) => e.text)).toEqual([`n${LOG_CAP}`, `n${LOG_CAP + 1}`, `n${LOG_CAP + 2}`]);
    expect(s.nextSeq).toBe(LOG_CAP + 3);
    expect(s.notice).toEqual({ text: `n${LOG_CAP + 2}`, tone: 'info', at: LOG_CAP + 2 });
    // A notice without `log` only sets the status line.
    expect(reduce(s, { type: 'notice', text: 'x', tone: 'bad', at: 0 }).log).toBe(s.log);
  });
});

// A router's snapshot: its own calls, plus per agent its state and its own stats document.
type AgentSpec = { id: string; state?: ClusterAgent['state']; completed?: number; uptimeMs?: number; runId?: string; workers?: number; answered?: boolean };
function routerStats(agents: AgentSpec[], o: { uptimeMs?: number; completed?: number; runId?: string } = {}): AgentStats {
  const own = agents.map((a) => (a.answered === false ? null : { ...stats({ runId: a.runId ?? `run-${a.id}`, uptimeMs: a.uptimeMs ?? 1000, completed: a.completed ?? 0, workers: a.workers ?? 2 }), agent: { id: a.id, pid: 300, version: '0.1.0', runId: a.runId ?? `run-${a.id}`, uptimeMs: a.uptimeMs ?? 1000 } }));
  return {
    ...stats({ runId: o.runId ?? 'router-run', uptimeMs: o.uptimeMs ?? 1000, completed: o.completed ?? 0 }),
    agent: { id: 'router-1', pid: 99, version: '0.1.0', runId: o.runId ?? 'router-run', uptimeMs: o.uptimeMs ?? 1000, kind: 'router' },
    workers: own.flatMap((s, i) => (s?.workers ?? []).map((w) => ({ ...w, agent: agents[i]!.id }))),
    agents: agents.map((a, i) => ({
      id: a.id,
      address: `unix:/h/agents/${i + 1}/agent.sock`,
      pid: 300 + i,
      state: a.state ?? 'alive',
      labels: {},
      workerPids: own[i]?.workers.map((w) => w.pid) ?? [],
      inFlight: i,
      queueDepth: 0,
      capacity: 2,
      sessions: 0,
      phi: 0.5,
      breaker: 'closed',
      version: '0.1.0',
      restarts: 0,
      stats: own[i] ?? null,
    })),
  };
}
const rsnap = (agents: AgentSpec[], o: Parameters<typeof routerStats>[1] = {}, at = 0): DashboardAction => ({ type: 'stats', stats: routerStats(agents, o), at });

describe('dashboard state behind a router', () => {
  it('a router snapshot is the cluster view: the first agent selected, its workers listed, the router in the log', () => {
    const s = run([rsnap([{ id: 'agent-1', workers: 2 }, { id: 'agent-2', workers: 3 }])]);
    expect(isCluster(s.stats)).toBe(true);
    expect(s.selectedAgent).toBe('agent-1');
    expect(selectedAgent(s)?.id).toBe('agent-1');
    expect(selectedWorkers(s).map((w) => `${w.agent}/${w.id}`)).toEqual(['agent-1/default-0', 'agent-1/default-1']);
    expect(s.log.entries[0]?.text).toBe('connected to router pid 99 (v0.1.0, run router-r, 2 agents)');
    // A single agent's snapshot is not.
    expect(isCluster(run([snap({})]).stats)).toBe(false);
    expect(clusterAgents(run([snap({})]))).toBeNull();
  });

  it("each agent's calls/s comes from its own successive snapshots; a new run or a silent agent has none", () => {
    const s = run([
      rsnap([{ id: 'a', completed: 10, uptimeMs: 1000 }, { id: 'b', completed: 0, uptimeMs: 5000 }, { id: 'c', completed: 0 }]),
      rsnap([
        { id: 'a', completed: 30, uptimeMs: 1500 }, // 20 calls in 0.5 s
        { id: 'b', completed: 5, uptimeMs: 4000, runId: 'b-restarted' }, // restarted: starts over
        { id: 'c', answered: false }, // no stats this time
      ], { uptimeMs: 2000 }),
    ]);
    expect(s.agentRates).toEqual({ a: 40 });
    expect(clusterTotals(clusterAgents(s)!, s.agentRates)).toEqual({ agents: 3, alive: 3, workers: 4, inFlight: 3, callsPerSec: 40 });
    // The silent agent's base is kept: its next answer makes a rate against it.
    const later = run([rsnap([{ id: 'a', completed: 30, uptimeMs: 2500 }, { id: 'b', completed: 15, uptimeMs: 5000, runId: 'b-restarted' }, { id: 'c', completed: 4, uptimeMs: 3000 }], { uptimeMs: 3000 })], s);
    expect(later.agentRates).toEqual({ a: 0, b: 10, c: 2 });
    expect(clusterTotals([], {})).toMatchObject({ agents: 0, callsPerSec: null });
    expect(callRate(null, { runId: 'x', calls: 1, uptimeMs: 1 })).toBeNull();
  });

  it('arrows move in the focused table: agents (workers reset), then the selected agent’s workers', () => {
    let s = run([rsnap([{ id: 'a', workers: 1 }, { id: 'b', workers: 3 }, { id: 'c', workers: 1 }])]);
    s = run([{ type: 'select', delta: 1 }], s);
    expect(s.selectedAgent).toBe('b');
    s = run([{ type: 'select', delta: Infinity }], s);
    expect(s.selectedAgent).toBe('c');
    s = run([{ type: 'select', delta: -1 }, { type: 'focus', to: 'toggle' }], s);
    expect(s).toMatchObject({ selectedAgent: 'b', focus: 'workers', selected: 0 });
    s = run([{ type: 'select', delta: 1 }, { type: 'select', delta: 5 }], s);
    expect(selectedWorker(s)).toMatchObject({ agent: 'b', id: 'default-2' });
    // Back in the agent table, another agent starts at its first worker.
    s = run([{ type: 'focus', to: 'agents' }, { type: 'select', delta: 1 }], s);
    expect(s).toMatchObject({ selectedAgent: 'c', selected: 0, focus: 'agents' });
    expect(run([{ type: 'focus', to: 'agents' }], s)).toBe(s);
    // A single agent has no focus to change.
    const single = run([snap({})]);
    expect(reduce(single, { type: 'focus', to: 'toggle' })).toBe(single);
  });

  it('agents are listed by id in natural order, whatever order the router joined them in', () => {
    const s = run([rsnap([{ id: 'agent-10' }, { id: 'agent-2' }, { id: 'agent-1' }])]);
    expect(clusterAgents(s)?.map((a) => a.id)).toEqual(['agent-1', 'agent-2', 'agent-10']);
    expect(s.selectedAgent).toBe('agent-1');
  });

  it('the selection follows the agent by id; an agent that left gives way to the first, cancelling a pending drain', () => {
    let s = run([rsnap([{ id: 'a' }, { id: 'b' }, { id: 'c' }]), { type: 'select', delta: 1 }]);
    s = run([rsnap([{ id: 'x' }, { id: 'a' }, { id: 'b' }, { id: 'c' }], { uptimeMs: 2000 })], s);
    expect(s.selectedAgent).toBe('b');
    s = run([{ type: 'drain.ask' }], s);
    expect(run([rsnap([{ id: 'a' }, { id: 'b' }], { uptimeMs: 3000 })], s).confirmDrain).toBe(true);
    const gone = run([rsnap([{ id: 'a' }, { id: 'c' }], { uptimeMs: 3000 })], s);
    expect(gone).toMatchObject({ selectedAgent: 'a', confirmDrain: false });
  });

  it("agents' events name their agent; the router's own are the cluster's", () => {
    const s = run([
      rsnap([{ id: 'agent-1' }]),
      { type: 'event', at: 1, event: { type: 'worker.ready', pool: 'default', worker: 'default-0', pid: 7, startupMs: 80, agent: 'agent-1' } },
      { type: 'event', at: 2, event: { type: 'cluster.agent', agent: 'agent-1', state: 'cordoned', reason: 'cordoned' } },
      { type: 'event', at: 3, event: { type: 'agent.draining', deadlineMs: null, agent: 'router-1' } },
      { type: 'event', at: 4, event: { type: 'agent.stopping', agent: 'agent-1' } },
    ]);
    expect(s.log.entries.slice(1).map((e) => [e.text, e.tone])).toEqual([
      ['agent-1: worker default-0 started (pid 7, 80 ms)', 'good'],
      ['agent agent-1 cordoned: cordoned', 'warn'],
      ['cluster draining', 'warn'],
      ['agent-1: agent stopping', 'warn'],
    ]);
  });
});
