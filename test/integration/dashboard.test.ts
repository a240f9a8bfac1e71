// The dashboard UI with ink-testing-library and a fake Agent API client: what the frame shows,
// what the keys do, that the live area fits 80×24, and that it says so and retries when no agent
// answers. (A .ts file with createElement: vitest collects test/**/*.test.ts.)
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

/** A fake agent behind a fake client: a watch stream we push into, and recorded actions. */
function fakeAgent() {
  let stream: { push: (u: WatchUpdate) => void; end: (err?: Error) => void } | null = null;
  let reachable = true;
  let snapshot: AgentStats = stats();
  const client = {
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
  } satisfies DashboardClient;
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
