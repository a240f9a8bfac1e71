// The dashboard's reducer as plain data: snapshots, throughput history, events in the log,
// connection changes, selection bounds and the log cap.
import { describe, expect, it } from 'vitest';
import type { AgentStats } from '../../src/client/types.js';
import { HISTORY_LENGTH, LOG_CAP, NOTICE_MS, describeEvent, initialState, reduce, selectedWorker, type DashboardAction, type DashboardState } from '../../src/dashboard/state.js';

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
