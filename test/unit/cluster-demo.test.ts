// `snakepit cluster demo` without a cluster: its options, the call mix, the load driver against
// a fake client (counts, failures, a call that never answers is lost, Ctrl-C), the live view's
// reducer as plain data (rows, rates, the kill's detection and recovery), which sessions moved,
// the summary, and the view rendered with ink-testing-library.
import { afterEach, describe, expect, it } from 'vitest';
import { createElement } from 'react';
import { cleanup, render } from 'ink-testing-library';
import type { AgentStats, ClusterAgentStats } from '../../src/client/types.js';
import { sessionOwner as routerOwner, type AgentView } from '../../src/cluster/placement.js';
import { demoPlan, demoTmpBase } from '../../src/cli/commands/cluster-demo.js';
import { MixedLoad, plannedCall, type LoadClient } from '../../src/demo/load.js';
import {
  LOG_CAP,
  agentToKill,
  callsPerSecond,
  formatSummary,
  initialState,
  movedSessions,
  progressLine,
  reduce,
  sessionOwner,
  summarize,
  type DemoAction,
  type DemoPlan,
  type DemoState,
} from '../../src/demo/state.js';
import { DemoView } from '../../src/demo/View.js';
import { SnakepitError } from '../../src/errors.js';

const PLAN: DemoPlan = { agents: 3, workers: 2, requests: 100, concurrency: 4, kill: true, sessions: 12 };
const IDS = ['agent-1', 'agent-2', 'agent-3'];

function agent(id: string, o: { state?: ClusterAgentStats['state']; inFlight?: number; calls?: number; uptimeMs?: number; runId?: string; pid?: number; restarts?: number; down?: boolean } = {}): ClusterAgentStats {
  const own = o.down
    ? null
    : ({ agent: { id, pid: o.pid ?? 100, version: '0.1.0', runId: o.runId ?? `${id}-run`, uptimeMs: o.uptimeMs ?? 1000 }, workers: [], pools: [], queue: { depth: 0 }, calls: { completed: o.calls ?? 0, failed: 0, inFlight: 0 }, latencyMs: { p50: 0, p99: 0 } } as AgentStats);
  return { id, address: `unix:/h/agents/${id}/agent.sock`, pid: o.pid ?? 100, state: o.state ?? 'alive', labels: {}, workerPids: [], inFlight: o.inFlight ?? 0, queueDepth: 0, capacity: 2, sessions: 0, phi: 0, breaker: 'closed', version: '0.1.0', restarts: o.restarts ?? 0, stats: own };
}

function routerStats(agents: ClusterAgentStats[]): AgentStats {
  return { agent: { id: 'router', pid: 1, version: '0.1.0', runId: 'r', uptimeMs: 1, kind: 'router' }, workers: [], pools: [], queue: { depth: 0 }, calls: { completed: 0, failed: 0, inFlight: 0, retries: 0 }, latencyMs: { p50: 0, p99: 0 }, agents };
}

const run = (actions: DemoAction[], from: DemoState = initialState(PLAN)): DemoState => actions.reduce(reduce, from);
const snap = (agents: ClusterAgentStats[], at: number): DemoAction => ({ type: 'stats', stats: routerStats(agents), at });
const clusterEvent = (id: string, state: 'alive' | 'down' | 'suspect', at: number, reason: string | null = null): DemoAction => ({ type: 'event', event: { type: 'cluster.agent', agent: id, state, reason }, at });

afterEach(() => cleanup());

describe('cluster demo options', () => {
  it('defaults, and bad input is a USAGE error with a clear message', () => {
    expect(demoPlan({})).toEqual({ agents: 3, workers: 2, requests: 3000, concurrency: 8, kill: true, sessions: 12 });
    const usage = (o: Parameters<typeof demoPlan>[0]): SnakepitError => {
      try {
        demoPlan(o);
      } catch (err) {
        return err as SnakepitError;
      }
      throw new Error('no error');
    };
    expect(usage({ agents: 0 })).toMatchObject({ code: 'USAGE', message: expect.stringContaining('--agents') });
    expect(usage({ agents: 17 }).code).toBe('USAGE');
    expect(usage({ requests: 1.5 }).code).toBe('USAGE');
    expect(usage({ concurrency: 1000 }).code).toBe('USAGE');
    // One agent cannot lose one and keep serving; without the kill it is fine.
    expect(usage({ agents: 1 })).toMatchObject({ code: 'USAGE', message: expect.stringContaining('--no-kill') });
    expect(demoPlan({ agents: 1, kill: false }).agents).toBe(1);
  });

  it('the temporary home stays short enough for unix sockets', () => {
    expect(demoTmpBase('/tmp')).toBe('/tmp');
    expect(demoTmpBase(`/${'x'.repeat(90)}`)).toBe('/tmp');
  });
});

describe('the mixed load', () => {
  it('every fourth call is a session counter (round robin), the others sessionless sleeps', () => {
    const plan = { sessions: ['a', 'b'], workMs: 20 };
    expect([0, 1, 4, 8].map((i) => plannedCall(i, plan))).toEqual([
      { tool: 'counter', args: {}, session: 'a' },
      { tool: 'sleep', args: { seconds: 0.02 }, session: null },
      { tool: 'counter', args: {}, session: 'b' },
      { tool: 'counter', args: {}, session: 'a' },
    ]);
  });

  it('runs every call once, at most `concurrency` at a time, all idempotent; failures are counted by code', async () => {
    let inFlight = 0;
    let most = 0;
    const calls: Array<{ tool: string; idempotent: boolean | undefined; session: string | undefined }> = [];
    const client: LoadClient = {
      async execute(tool, _args, options) {
        const n = calls.push({ tool, idempotent: options?.idempotent, session: options?.session });
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, 1));
        inFlight--;
        if (n % 10 === 0) throw new SnakepitError('AGENT_UNAVAILABLE', 'gone');
        return 1;
      },
    };
    const starts: number[] = [];
    const load = new MixedLoad(client, { requests: 50, concurrency: 4, sessions: ['s1', 's2', 's3'], workMs: 1, stallMs: 5_000 }, { onStart: (i) => starts.push(i) });
    const r = await load.run();
    expect(r).toMatchObject({ started: 50, succeeded: 45, failed: 5, lost: 0, inFlight: 0, errors: { AGENT_UNAVAILABLE: 5 }, stopped: false });
    expect(most).toBe(4);
    expect(starts).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(calls.every((c) => c.idempotent === true)).toBe(true);
    expect(calls.filter((c) => c.session !== undefined)).toHaveLength(13);
    expect([...r.sessionCalls.keys()].sort()).toEqual(['s1', 's2', 's3']);
  });

  it('a call that never answers is lost (and cancelled), not waited for forever', async () => {
    const signals: AbortSignal[] = [];
    const client: LoadClient = {
      execute(_tool, _args, options) {
        signals.push(options!.signal!);
        // The third call hangs until cancelled.
        if (signals.length === 3) return new Promise((_, reject) => options!.signal!.addEventListener('abort', () => reject(new SnakepitError('CANCELLED', 'cancelled'))));
        return Promise.resolve(1);
      },
    };
    const load = new MixedLoad(client, { requests: 10, concurrency: 2, sessions: [], workMs: 1, stallMs: 100 });
    const r = await load.run();
    expect(r.lost).toBe(1);
    expect(r.succeeded + r.failed + r.lost).toBe(r.started);
    expect(r.failed).toBe(0); // the cancellation after it was counted lost is not a failure too
    expect(signals[2]!.aborted).toBe(true);
  });

  it('stop() (Ctrl-C) starts no more calls and cancels those in flight', async () => {
    const client: LoadClient = {
      // As the real client: a listener per call on the shared signal, removed when it settles.
      execute: (_t, _a, o) => new Promise((resolve, reject) => {
        const signal = o!.signal!;
        const onAbort = (): void => {
          clearTimeout(timer);
          reject(new SnakepitError('CANCELLED', 'cancelled'));
        };
        const timer = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve(1);
        }, 5);
        signal.addEventListener('abort', onAbort, { once: true });
      }),
    };
    const load = new MixedLoad(client, { requests: 10_000, concurrency: 3, sessions: [], workMs: 1, stallMs: 5_000 });
    setTimeout(() => load.stop(), 30);
    const r = await load.run();
    expect(r.stopped).toBe(true);
    expect(r.started).toBeLessThan(10_000);
    expect(r.lost).toBe(0);
    expect(r.succeeded + r.failed).toBe(r.started);
    expect(r.errors.CANCELLED).toBeGreaterThan(0);
  });
});

describe('cluster demo state', () => {
  it('rows come from snapshots, by id, with calls/s from each agent’s own counters', () => {
    const s = run([
      snap([agent('agent-10', { calls: 0, uptimeMs: 1000 }), agent('agent-2', { calls: 0, uptimeMs: 1000, inFlight: 3 })], 0),
      snap([agent('agent-10', { calls: 50, uptimeMs: 1500 }), agent('agent-2', { calls: 100, uptimeMs: 1500, inFlight: 2 })], 500),
    ]);
    expect(s.agents.map((a) => [a.id, a.state, a.rate, a.inFlight])).toEqual([
      ['agent-2', 'alive', 200, 2],
      ['agent-10', 'alive', 100, 0],
    ]);
    // A restarted agent (another run) starts its rate again; a dead one has none.
    const after = run([snap([agent('agent-10', { calls: 3, uptimeMs: 100, runId: 'new' }), agent('agent-2', { state: 'down', down: true })], 900)], s);
    expect(after.agents.map((a) => a.rate)).toEqual([0, 0]);
  });

  it('overall calls/s over about the last second', () => {
    const counts = (n: number) => ({ started: n, succeeded: n, failed: 0, inFlight: 0, errors: {} });
    const s = run([{ type: 'load.started', at: 0 }, ...[1, 2, 3, 4, 5].map((k): DemoAction => ({ type: 'load', counts: counts(k * 100), at: k * 500 }))]);
    expect(callsPerSecond(s)).toBe(200);
    expect(s.answered.length).toBeLessThanOrEqual(4);
  });

  it('the kill, its detection from the router’s event and the agent’s return are timed and logged', () => {
    const s = run([
      snap(IDS.map((id) => agent(id)), 0),
      { type: 'load.started', at: 100 },
      { type: 'killed', agent: 'agent-2', pid: 4242, at: 1000 },
      clusterEvent('agent-2', 'down', 1014, 'its process exited with signal SIGKILL'),
      // A snapshot taken before the event must not bring back the old state.
      snap(IDS.map((id) => agent(id)), 1050),
      clusterEvent('agent-2', 'alive', 1900),
    ]);
    expect(s.detectedAt).toBe(1014);
    expect(s.recoveredAt).toBe(1900);
    expect(s.log.map((e) => e.text)).toEqual([
      'SIGKILL to agent-2 (pid 4242)',
      'router: agent-2 down, 14 ms after the kill (its process exited with signal SIGKILL); its calls go to the others',
      'router: agent-2 alive again, 0.90 s after the kill (restarted by the router)',
    ]);
    const mid = run([snap(IDS.map((id) => agent(id)), 0), { type: 'killed', agent: 'agent-2', pid: 1, at: 10 }, clusterEvent('agent-2', 'down', 20), snap(IDS.map((id) => agent(id)), 30)]);
    expect(mid.agents.find((a) => a.id === 'agent-2')!.state).toBe('down');
  });

  it('a snapshot after the kill showing the agent down counts as detection when the event is missed', () => {
    const s = run([{ type: 'killed', agent: 'agent-2', pid: 1, at: 10 }, snap([agent('agent-1'), agent('agent-2', { state: 'down', down: true })], 40)]);
    expect(s.detectedAt).toBe(40);
  });

  it('other agents’ events are logged with their agent; the log is capped', () => {
    const s = run([{ type: 'event', event: { type: 'worker.exited', agent: 'agent-1', pool: 'default', worker: 'default-0', pid: 7, code: null, signal: 'SIGKILL', expected: false, reason: null }, at: 5 }]);
    expect(s.log[0]!.text).toBe('agent-1: worker default-0 crashed (pid 7, SIGKILL)');
    let big = initialState(PLAN);
    for (let i = 0; i < LOG_CAP + 10; i++) big = reduce(big, { type: 'note', text: `n${i}`, tone: 'info', at: i });
    expect(big.log).toHaveLength(LOG_CAP);
    expect(big.dropped).toBe(10);
  });

  it('the progress line has the totals, calls/s and each agent', () => {
    const s = run([
      { type: 'load.started', at: 0 },
      snap([agent('agent-1', { calls: 0, uptimeMs: 0 }), agent('agent-2')], 0),
      snap([agent('agent-1', { calls: 120, uptimeMs: 1000 }), agent('agent-2', { state: 'down', down: true })], 1000),
      { type: 'load', counts: { started: 305, succeeded: 300, failed: 0, inFlight: 5, errors: {} }, at: 1000 },
    ]);
    expect(progressLine(s)).toBe('' + '1.00 s'.padStart(7) + '  300/100 calls  300 calls/s  5 in flight  0 failed  |  agent-1 alive 120/s · agent-2 down');
  });
});

describe('which sessions moved', () => {
  const view = (ids: string[]): AgentView[] => ids.map((id) => ({ id, state: 'alive', breaker: 'closed', tools: new Set(['counter']), labels: {}, inFlight: 0, queueDepth: 0, capacity: 2 }));

  it('a session’s owner is the router’s own (rendezvous hashing over the agents)', () => {
    for (let i = 1; i <= 50; i++) {
      const s = `demo-${i}`;
      expect(sessionOwner(s, IDS)).toBe(routerOwner({ tool: 'counter', session: s, require: {} }, view(IDS)));
    }
  });

  it('moved: owned by the killed agent and called while it was away; the victim owns the most sessions', () => {
    const sessions = Array.from({ length: 12 }, (_, i) => `demo-${i + 1}`);
    const victim = agentToKill(sessions, IDS);
    const owned = sessions.filter((s) => sessionOwner(s, IDS) === victim);
    for (const id of IDS) expect(owned.length).toBeGreaterThanOrEqual(sessions.filter((s) => sessionOwner(s, IDS) === id).length);
    const calls = new Map(sessions.map((s, i) => [s, [i * 10]] as const));
    const moved = movedSessions(calls, IDS, victim, 0, 1_000);
    expect(moved).toEqual([...owned].sort());
    // Not called during the outage: not moved.
    expect(movedSessions(calls, IDS, victim, 5_000, 6_000)).toEqual([]);
  });
});

describe('the summary', () => {
  const result = { started: 100, succeeded: 100, failed: 0, inFlight: 0, errors: {}, lost: 0, stopped: false, sessionCalls: new Map([['demo-1', [1500]]]), startedAt: 100, endedAt: 2600 };
  const state = run([{ type: 'killed', agent: sessionOwner('demo-1', IDS)!, pid: 9, at: 1000 }, clusterEvent(sessionOwner('demo-1', IDS)!, 'down', 1012.4), clusterEvent(sessionOwner('demo-1', IDS)!, 'alive', 2000)]);

  it('has the documented fields', () => {
    const s = summarize({ plan: PLAN, result, state, agentIds: IDS, retries: 3, interrupted: false, home: '/tmp/sp-demo-x', pids: [3, 1, 3] });
    expect(s).toEqual({
      agents: 3,
      requests: 100,
      succeeded: 100,
      failed: 0,
      lost: 0,
      killedAgent: sessionOwner('demo-1', IDS),
      detectionMs: 12,
      sessions: { total: 1, moved: 1 },
      durationMs: 2500,
      recoveryMs: 1000,
      retries: 3,
      errors: {},
      interrupted: false,
      home: '/tmp/sp-demo-x',
      pids: [1, 3],
    });
    const text = formatSummary(s, PLAN);
    expect(text).toContain('No call was lost');
    expect(text).toContain('the router saw it down after 12 ms');
    expect(text).toContain('/tmp/sp-demo-x was removed');
  });

  it('without a kill there is no detection; failures are named', () => {
    const s = summarize({ plan: { ...PLAN, kill: false }, result: { ...result, succeeded: 98, failed: 2, errors: { TIMEOUT: 2 } }, state: initialState(PLAN), agentIds: IDS, retries: 0, interrupted: false, home: '/h', pids: [] });
    expect(s).toMatchObject({ killedAgent: null, detectionMs: null, recoveryMs: null, sessions: { total: 1, moved: 0 } });
    expect(formatSummary(s, PLAN)).toMatch(/failed {5}2 \(TIMEOUT ×2\)[\s\S]*2 of 100 calls did not succeed/);
  });
});

describe('the live view', () => {
  it('shows the totals, one row per agent and the events', () => {
    const state = run([
      { type: 'load.started', at: 0 },
      snap([agent('agent-1', { pid: 11, inFlight: 2 }), agent('agent-2', { pid: 12 })], 100),
      { type: 'load', counts: { started: 60, succeeded: 50, failed: 0, inFlight: 10, errors: {} }, at: 500 },
      { type: 'killed', agent: 'agent-2', pid: 12, at: 600 },
      clusterEvent('agent-2', 'down', 620),
    ]);
    const { lastFrame } = render(createElement(DemoView, { state, color: false }));
    const frame = lastFrame()!;
    expect(frame).toContain('SIGKILL to agent-2 (pid 12)');
    expect(frame).toContain('router: agent-2 down, 20 ms after the kill');
    expect(frame).toContain('50/100 calls');
    expect(frame).toContain('calls/s');
    expect(frame).toMatch(/AGENT\s+STATE\s+PID\s+CALLS\/S\s+IN FLIGHT\s+RESTARTS/);
    expect(frame).toMatch(/agent-1\s+alive\s+11\s+0\s+2\s+0/);
    expect(frame).toMatch(/agent-2\s+down\s+-\s+-\s+0\s+0/);
  });
});
