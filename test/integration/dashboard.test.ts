// The dashboard UI with ink-testing-library and a fake Agent API client: what the frame shows,
// what the keys do, that the live area fits 80×24, and that it says so and retries when no agent
// answers; behind a router, the agent table, its keys and its layout. (A .ts file with
// createElement: vitest collects test/**/*.test.ts.)
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createElement } from 'react';
import { cleanup, render } from 'ink-testing-library';
import { App, type DashboardClient } from '../../src/dashboard/App.js';
import { updateIterator } from '../../src/client/updates.js';
import { SnakepitError } from '../../src/errors.js';
import type { AgentEvent, AgentStats, WatchUpdate } from '../../src/client/types.js';
import { waitFor } from '../helpers/env.js';

const DOWN = '\u001B[B';
const NO_AGENT = 'no agent reachable at home /h; start one with `snakepit up --home /h`';

function stats(o: { workers?: number; uptimeMs?: number; completed?: number; runId?: string; pid?: number } = {}): AgentStats {
  const n = o.workers ?? 2;
  return {
    agent: { pid: o.pid ?? 4242, version: '0.1.0', runId: o.runId ?? 'aaaaaaaa-run', uptimeMs: o.uptimeMs ?? 65_000 },
    workers: Array.from({ length: n }, (_, i) => ({ id: `default-${i}`, pid: 5000 + i, state: i === 1 ? 'busy' : 'ready', requests: 10 * i, inFlight: i === 1 ? 1 : 0, rssBytes: 20 * 1024 * 1024, uptimeMs: 61_000, restarts: i === 0 ? 2 : 0, recycles: 0, pool: 'default' })),
    pools: [{ name: 'default', size: n, affinity: 'hint', degraded: null, tools: 12, recycled: 0 }],
    queue: { depth: 3 },
    calls: { completed: o.completed ?? 100, failed: 1, inFlight: 1 },
    latencyMs: { p50: 1.5, p99: 12 },
  };
}

/** A router's snapshot: `agents` agents of `workers` workers each; agent i has done `calls[i]` calls. */
function routerStats(o: { agents?: number; workers?: number; uptimeMs?: number; calls?: number[]; states?: string[] } = {}): AgentStats {
  const n = o.agents ?? 3;
  const own = Array.from({ length: n }, (_, i) => {
    const s = stats({ workers: o.workers ?? 2, uptimeMs: o.uptimeMs ?? 65_000, completed: o.calls?.[i] ?? 0, runId: `agent-run-${i + 1}`, pid: 6000 + i });
    return { ...s, agent: { ...s.agent, id: `agent-${i + 1}` }, workers: s.workers.map((w, j) => ({ ...w, pid: 7000 + i * 100 + j })) };
  });
  return {
    ...stats({ uptimeMs: o.uptimeMs ?? 65_000, completed: (o.calls ?? []).reduce((a, b) => a + b, 0), runId: 'router-run' }),
    agent: { id: 'router-x', pid: 4000, version: '0.1.0', runId: 'rrrrrrrr-run', uptimeMs: o.uptimeMs ?? 65_000, kind: 'router' },
    workers: own.flatMap((s, i) => s.workers.map((w) => ({ ...w, agent: `agent-${i + 1}` }))),
    agents: own.map((s, i) => ({
      id: `agent-${i + 1}`,
      address: `unix:/h/agents/${i + 1}/agent.sock`,
      pid: 6000 + i,
      state: (o.states?.[i] ?? 'alive') as 'alive',
      labels: {},
      workerPids: s.workers.map((w) => w.pid),
      inFlight: i,
      queueDepth: 0,
      capacity: o.workers ?? 2,
      sessions: 0,
      phi: i === 2 ? 1e9 : 0.25,
      breaker: i === 2 ? 'open' : 'closed',
      version: '0.1.0',
      restarts: 0,
      stats: s,
    })),
  } as AgentStats;
}

/** A fake agent behind a fake client: a watch stream we push into, and recorded actions. */
function fakeAgent(first: AgentStats = stats(), extra: Partial<Pick<Required<DashboardClient>, 'cordon' | 'drainAgent'>> = {}) {
  let stream: { push: (u: WatchUpdate) => void; end: (err?: Error) => void } | null = null;
  let reachable = true;
  let snapshot: AgentStats = first;
  const client = {
    ...extra,
    watch: vi.fn((): AsyncIterableIterator<WatchUpdate> =>
      updateIterator({
        start(push, end) {
          if (!reachable) {
            queueMicrotask(() => end(new SnakepitError('AGENT_UNAVAILABLE', NO_AGENT)));
            return () => {};
          }
          stream = { push, end };
          push({ type: 'stats', stats: snapshot }); // like the agent: a snapshot at once
          return () => {
            stream = null;
          };
        },
      }),
    ),
    restartWorker: vi.fn(async (_id: string) => {}),
    drain: vi.fn(async () => ({ drained: true, pid: 4242 })),
    close: vi.fn(),
  } satisfies DashboardClient as DashboardClient & { watch: ReturnType<typeof vi.fn>; restartWorker: ReturnType<typeof vi.fn>; drain: ReturnType<typeof vi.fn>; close: ReturnType<typeof vi.fn> };
  return {
    client,
    open: () => client as DashboardClient,
    snapshot(s: AgentStats) {
      snapshot = s;
      stream?.push({ type: 'stats', stats: s });
    },
    event(e: AgentEvent) {
      stream?.push({ type: 'event', event: e });
    },
    stop() {
      reachable = false;
      stream?.end(new SnakepitError('AGENT_UNAVAILABLE', NO_AGENT));
    },
    start() {
      reachable = true;
    },
    get streaming() {
      return stream !== null;
    },
  };
}

function show(agent: ReturnType<typeof fakeAgent>) {
  const app = render(createElement(App, { open: agent.open, address: 'unix:/h/agent.sock', intervalMs: 1000, color: false, backoff: { initialMs: 10, maxMs: 40 } }));
  const frame = (): string => app.lastFrame() ?? '';
  const until = (text: string | RegExp) =>
    waitFor(() => (typeof text === 'string' ? frame().includes(text) : text.test(frame())), 3000).catch(() => {
      throw new Error(`frame never showed ${String(text)}; last frame:\n${frame()}`);
    });
  return { app, frame, until };
}

afterEach(() => cleanup());

describe('dashboard (ink-testing-library)', () => {
  it('shows the agent, workers, rates, latency, queue, pools and events', async () => {
    const agent = fakeAgent();
    const { frame, until } = show(agent);
    await until('default-1');
    agent.snapshot(stats({ uptimeMs: 66_000, completed: 150 }));
    await until('50.0/s');
    agent.event({ type: 'worker.exited', pool: 'default', worker: 'default-0', pid: 5000, code: null, signal: 'SIGKILL', expected: false, reason: null });
    agent.event({ type: 'worker.ready', pool: 'default', worker: 'default-0', pid: 5009, startupMs: 75 });
    await until('started (pid 5009');
    const f = frame();
    expect(f).toContain('agent pid 4242 · v0.1.0 · up 1m6s');
    expect(f).toContain('unix:/h/agent.sock');
    expect(f).toContain('● live');
    expect(f).toMatch(/default-0\s+5000\s+ready\s+0\s+0\s+2\s+0\s+20\.0 MiB\s+1m1s/);
    expect(f).toMatch(/default-1\s+5001\s+busy\s+1\s+10\s+0/);
    expect(f).toContain('p50 1.50 ms');
    expect(f).toContain('p99 12 ms');
    expect(f).toContain('queue 3');
    expect(f).toContain('1 failed');
    expect(f).toContain('pool default  2 workers');
    expect(f).toContain('healthy');
    expect(f).toMatch(/\d\d:\d\d:\d\d connected to agent pid 4242/);
    expect(f).toMatch(/\d\d:\d\d:\d\d worker default-0 crashed \(pid 5000, SIGKILL\)/);
    expect(f).toContain('r restart worker · d drain agent · q quit');
    // The event log is printed once, above the live area, in order.
    expect(f.indexOf('crashed')).toBeLessThan(f.indexOf('started (pid 5009'));
    expect(f.indexOf('started (pid 5009')).toBeLessThan(f.indexOf('snakepit  agent'));
  });

  it('arrows select, r restarts the selected worker, d asks then drains, q quits', async () => {
    const agent = fakeAgent();
    const { app, frame, until } = show(agent);
    await until('default-1');
    expect(frame()).toMatch(/> default-0/);
    app.stdin.write(DOWN);
    await until(/> default-1/);
    app.stdin.write(DOWN); // already the last one
    app.stdin.write('r');
    await until('default-1 restarted');
    expect(agent.client.restartWorker).toHaveBeenCalledTimes(1);
    expect(agent.client.restartWorker).toHaveBeenCalledWith('default-1');

    app.stdin.write('d');
    await until('press d again to drain');
    app.stdin.write('x'); // any other key cancels
    await until('● live');
    expect(agent.client.drain).not.toHaveBeenCalled();
    app.stdin.write('d');
    app.stdin.write('d');
    await until('agent drained and stopped (pid 4242)');
    expect(agent.client.drain).toHaveBeenCalledTimes(1);

    app.stdin.write('q');
    await waitFor(() => agent.client.close.mock.calls.length > 0 && !agent.streaming, 3000);
  });

  it('fits 80×24 with 12 workers, and truncates a longer table with "… N more"', async () => {
    const agent = fakeAgent();
    const { app, frame, until } = show(agent);
    Object.defineProperty(app.stdout, 'columns', { value: 80 });
    Object.defineProperty(app.stdout, 'rows', { value: 24 });
    app.stdout.emit('resize');
    agent.snapshot(stats({ workers: 12, uptimeMs: 66_000 }));
    await until('default-11');
    const lines = frame().split('\n');
    expect(lines.length).toBeLessThanOrEqual(24);
    const live = lines.filter((l) => !/^\d\d:\d\d:\d\d /.test(l));
    expect(live.length).toBeLessThan(24);
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(80);

    agent.snapshot(stats({ workers: 40, uptimeMs: 67_000 }));
    await until(/… \d+ more/);
    const more = frame().split('\n').filter((l) => !/^\d\d:\d\d:\d\d /.test(l));
    expect(more.length).toBeLessThan(24);
    expect(frame()).not.toContain('default-39');
    // The window follows the selection down.
    for (let i = 0; i < 39; i++) app.stdin.write(DOWN);
    await until(/> default-39/);
    expect(frame()).toMatch(/… \d+ more \(\d+ above, 0 below\)/);
    expect(frame().split('\n').filter((l) => !/^\d\d:\d\d:\d\d /.test(l)).length).toBeLessThan(24);
  });

  it('says plainly that no agent runs, retries, and recovers when the agent comes (back)', async () => {
    const agent = fakeAgent();
    agent.stop();
    const { frame, until } = show(agent);
    await until('not reachable — retrying');
    expect(frame()).toContain('No agent is running.');
    expect(frame()).toContain('start one with `snakepit up --home /h`');
    await waitFor(() => agent.client.watch.mock.calls.length >= 3, 3000); // it keeps trying
    agent.start();
    await until('● live');
    expect(frame()).toContain('default-0');
    expect(frame()).not.toContain('No agent is running.');

    // The agent goes away: last numbers stay, marked, and it retries until the agent is back.
    agent.stop();
    await until('agent not reachable — retrying');
    expect(frame()).toContain('(last seen)');
    expect(frame()).toMatch(/\d\d:\d\d:\d\d agent not reachable/);
    agent.snapshot(stats({ runId: 'bbbbbbbb-run', pid: 4343, uptimeMs: 1000 }));
    agent.start();
    await until('agent pid 4343');
    expect(frame()).toContain('● live');
    expect(frame()).toMatch(/connected to agent pid 4343/);
  });
});

describe('dashboard behind a router (ink-testing-library)', () => {
  const TAB = '\t';
  const fit80x24 = (frame: string): void => {
    const lines = frame.split('\n');
    expect(lines.filter((l) => !/^\d\d:\d\d:\d\d /.test(l)).length).toBeLessThan(24);
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(80);
  };

  it('shows the agents with state, phi, breaker, in-flight, workers, calls/s and totals, and the selected agent’s workers', async () => {
    const agent = fakeAgent(routerStats({ calls: [0, 0, 0] }));
    const { frame, until } = show(agent);
    await until('agent-3');
    agent.snapshot(routerStats({ uptimeMs: 66_000, calls: [100, 50, 0] }));
    await until(/total \(3\)\s+3 alive\s+3\s+6\s+150/);
    agent.event({ type: 'worker.exited', pool: 'default', worker: 'default-1', pid: 7101, code: 1, signal: null, expected: false, reason: null, agent: 'agent-2' });
    agent.event({ type: 'cluster.agent', state: 'suspect', reason: null, agent: 'agent-3' });
    await until('agent agent-3 suspect');
    const f = frame();
    expect(f).toContain('router pid 4000 · v0.1.0 · up 1m6s · 3 agents');
    expect(f).toMatch(/AGENT\s+PID\s+STATE\s+PHI\s+BREAKER\s+IN-FL\s+WORKERS\s+CALLS\/S/);
    expect(f).toMatch(/> agent-1\s+6000\s+alive\s+0\.25\s+closed\s+0\s+2\s+100/);
    expect(f).toMatch(/ {2}agent-2\s+6001\s+alive\s+0\.25\s+closed\s+1\s+2\s+50\.0/);
    expect(f).toMatch(/ {2}agent-3\s+6002\s+alive\s+∞\s+open\s+2\s+2\s+0\.0/);
    expect(f).toContain('workers of agent-1 (pid 6000)');
    expect(f).toMatch(/default-0\s+7000\s+ready/);
    expect(f).not.toMatch(/default-0\s+7100/); // agent-2's are not listed
    expect(f).toMatch(/connected to router pid 4000 \(v0\.1\.0, run rrrrrrrr, 3 agents\)/);
    expect(f).toMatch(/\d\d:\d\d:\d\d agent-2: worker default-1 crashed \(pid 7101, exit 1\)/);
    expect(f).toContain('↑/↓ agent · tab its workers · c cordon · d drain agent · q quit');
    fit80x24(f);
  });

  it('↓ selects an agent, tab moves into its workers, r restarts agent/worker; c and d say when the router cannot', async () => {
    const agent = fakeAgent(routerStats());
    const { app, frame, until } = show(agent);
    await until('agent-3');
    app.stdin.write('r'); // on the agent table there is no worker to act on
    await until('tab to the workers of agent-1');
    app.stdin.write(DOWN);
    await until('workers of agent-2 (pid 6001)');
    expect(frame()).toMatch(/default-0\s+7100/);
    app.stdin.write(TAB);
    await until(/• agent-2/);
    app.stdin.write(DOWN);
    await until(/> default-1\s+7101/);
    app.stdin.write('r');
    await until('agent-2/default-1 restarted');
    expect(agent.client.restartWorker).toHaveBeenCalledWith('agent-2/default-1');

    app.stdin.write('c');
    await until('cordon agent-2: not supported by this agent');
    app.stdin.write('d');
    await until('drain agent-2: not supported by this agent');
    app.stdin.write('d');
    await new Promise((r) => setTimeout(r, 50));
    expect(frame()).not.toContain('press d again');
    expect(agent.client.drain).not.toHaveBeenCalled(); // never the whole cluster
  });

  it('c cordons (and uncordons) the selected agent, d twice drains it, through the router’s controls', async () => {
    const cordon = vi.fn(async (_id: string, _on: boolean) => {});
    const drainAgent = vi.fn(async (_id: string) => ({ drained: true }));
    const agent = fakeAgent(routerStats(), { cordon, drainAgent });
    const { app, until } = show(agent);
    await until('agent-3');
    app.stdin.write(DOWN);
    await until(/> agent-2/);
    app.stdin.write('c');
    await until('agent-2 cordoned: no new calls or sessions go to it');
    expect(cordon).toHaveBeenLastCalledWith('agent-2', true);
    agent.snapshot(routerStats({ uptimeMs: 66_000, states: ['alive', 'cordoned', 'alive'] }));
    await until(/> agent-2\s+6001\s+cordoned/);
    app.stdin.write('c');
    await until('agent-2 uncordoned');
    expect(cordon).toHaveBeenLastCalledWith('agent-2', false);

    app.stdin.write('d');
    await until('press d again to drain agent-2');
    app.stdin.write(DOWN); // moving cancels: the question was about agent-2
    await until(/> agent-3/);
    app.stdin.write('d');
    app.stdin.write('d');
    await until('agent-3 drained');
    expect(drainAgent).toHaveBeenCalledTimes(1);
    expect(drainAgent).toHaveBeenCalledWith('agent-3');
    expect(agent.client.drain).not.toHaveBeenCalled();
  });

  it('fits 80×24: 3 agents × 2 workers whole, 12 agents × 10 workers with "… N more" in both tables', async () => {
    const agent = fakeAgent(routerStats());
    const { app, frame, until } = show(agent);
    Object.defineProperty(app.stdout, 'columns', { value: 80 });
    Object.defineProperty(app.stdout, 'rows', { value: 24 });
    app.stdout.emit('resize');
    await until('agent-3');
    expect(frame()).not.toContain('more');
    fit80x24(frame());

    agent.snapshot(routerStats({ agents: 12, workers: 10, uptimeMs: 66_000 }));
    await until(/… \d+ more[\s\S]*… \d+ more/);
    fit80x24(frame());
    expect(frame()).not.toContain('agent-12');
    expect(frame()).toMatch(/total \(12\)\s+12 alive\s+66\s+120/);
    for (let i = 0; i < 11; i++) app.stdin.write(DOWN);
    await until(/> agent-12/);
    expect(frame()).toContain('workers of agent-12');
    app.stdin.write(TAB);
    for (let i = 0; i < 9; i++) app.stdin.write(DOWN);
    await until(/> default-9/);
    expect(frame()).toMatch(/… \d+ more \(\d+ above, 0 below\)/);
    fit80x24(frame());
  });
});
