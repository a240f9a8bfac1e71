// The state of `snakepit cluster demo` and its pure reducer, the progress line and the summary.
// Everything the live view and the progress lines show derives from the actions here: the load's
// counts, the router's stats snapshots and events (one WatchEvents stream), the kill. Times come
// in with the actions (ms on the demo's monotonic clock), so all of it is tested as plain data.
import type { AgentEvent, AgentStats } from '../client/types.js';
import { rendezvousScore } from '../cluster/placement.js';
import { describeEvent, type Tone } from '../dashboard/state.js';
import type { LoadCounts, LoadResult } from './load.js';
import { count } from '../text.js';

export type { Tone };

export interface LogEntry {
  seq: number;
  /** Demo clock, ms. */
  at: number;
  text: string;
  tone: Tone;
}

/** One agent as the live view shows it. */
export interface AgentRow {
  id: string;
  /** The router's view: starting, alive, suspect, down, cordoned, draining. */
  state: string;
  pid: number;
  /** The router's calls in flight to it. */
  inFlight: number;
  /** Calls it finished per second, over about the last second (its own counters). */
  rate: number;
  restarts: number;
}

export interface DemoPlan {
  agents: number;
  workers: number;
  requests: number;
  concurrency: number;
  kill: boolean;
  sessions: number;
}

export type Phase = 'booting' | 'running' | 'recovering' | 'stopping';

interface Sample {
  runId: string;
  uptimeMs: number;
  calls: number;
}

/** Log entries kept; the demo makes a handful, a crash-looping pool could make many. */
export const LOG_CAP = 200;
/** Window of the calls/s figures, ms. */
export const RATE_WINDOW_MS = 1_000;

export interface DemoState {
  plan: DemoPlan;
  phase: Phase;
  /** When the load started (demo clock), null before. */
  loadStartedAt: number | null;
  now: number;
  counts: LoadCounts;
  /** Calls answered so far, sampled, over about the last second: the overall calls/s. */
  answered: Array<{ at: number; n: number }>;
  agents: AgentRow[];
  samples: Record<string, Sample[]>;
  /** Agents whose state came from an event: a snapshot (maybe older) no longer overrides it. */
  evented: Record<string, true>;
  kill: { agent: string; pid: number; at: number } | null;
  /** When the router reported the killed agent down, and alive again (demo clock). */
  detectedAt: number | null;
  recoveredAt: number | null;
  log: LogEntry[];
  /** Entries left out past LOG_CAP. */
  dropped: number;
  nextSeq: number;
}

export type DemoAction =
  | { type: 'phase'; phase: Phase; at: number }
  | { type: 'load.started'; at: number }
  | { type: 'load'; counts: LoadCounts; at: number }
  | { type: 'stats'; stats: AgentStats; at: number }
  | { type: 'event'; event: AgentEvent; at: number }
  | { type: 'killed'; agent: string; pid: number; at: number }
  | { type: 'note'; text: string; tone: Tone; at: number };

export function initialState(plan: DemoPlan, at = 0): DemoState {
  return {
    plan,
    phase: 'booting',
    loadStartedAt: null,
    now: at,
    counts: { started: 0, succeeded: 0, failed: 0, inFlight: 0, errors: {} },
    answered: [],
    agents: [],
    samples: {},
    evented: {},
    kill: null,
    detectedAt: null,
    recoveredAt: null,
    log: [],
    dropped: 0,
    nextSeq: 0,
  };
}

export function reduce(state: DemoState, action: DemoAction): DemoState {
  const s: DemoState = { ...state, now: Math.max(state.now, action.at) };
  switch (action.type) {
    case 'phase':
      return { ...s, phase: action.phase };
    case 'load.started':
      return { ...s, phase: 'running', loadStartedAt: action.at, answered: [{ at: action.at, n: 0 }] };
    case 'load': {
      const n = action.counts.succeeded + action.counts.failed;
      const answered = [...s.answered, { at: action.at, n }];
      // Keep the newest sample older than the window, so the rate spans about a full window.
      while (answered.length > 2 && answered[1]!.at <= action.at - RATE_WINDOW_MS) answered.shift();
      return { ...s, counts: action.counts, answered };
    }
    case 'stats':
      return onStats(s, action.stats, action.at);
    case 'event':
      return onEvent(s, action.event, action.at);
    case 'killed':
      return append({ ...s, kill: { agent: action.agent, pid: action.pid, at: action.at } }, action.at, `SIGKILL to ${action.agent} (pid ${action.pid})`, 'bad');
    case 'note':
      return append(s, action.at, action.text, action.tone);
  }
}

function onStats(state: DemoState, stats: AgentStats, at: number): DemoState {
  let s = state;
  const samples: Record<string, Sample[]> = {};
  const rows: AgentRow[] = [];
  for (const a of stats.agents ?? []) {
    const own = a.stats;
    let list: Sample[] = [];
    if (own) {
      const sample = { runId: own.agent.runId, uptimeMs: own.agent.uptimeMs, calls: own.calls.completed + own.calls.failed };
      // A restarted agent is another run: its counters start again.
      const before = (s.samples[a.id] ?? []).filter((p) => p.runId === sample.runId && p.uptimeMs < sample.uptimeMs);
      list = [...before, sample];
      // Keep the newest sample older than the window, so the rate spans about a full window.
      while (list.length > 2 && list[1]!.uptimeMs <= sample.uptimeMs - RATE_WINDOW_MS) list.shift();
    }
    samples[a.id] = list;
    const first = list[0];
    const last = list[list.length - 1];
    const rate = first && last && last.uptimeMs > first.uptimeMs ? ((last.calls - first.calls) * 1000) / (last.uptimeMs - first.uptimeMs) : 0;
    const prev = s.agents.find((r) => r.id === a.id);
    rows.push({
      id: a.id,
      state: s.evented[a.id] && prev ? prev.state : a.state,
      pid: a.pid,
      inFlight: a.inFlight,
      rate: own ? rate : 0,
      restarts: a.restarts,
    });
  }
  s = { ...s, agents: rows.sort(byId), samples };
  // Should the event be missed (a lagged stream), a snapshot taken after the kill tells it too.
  const killed = s.kill && rows.find((r) => r.id === s.kill!.agent);
  if (s.kill && killed && at > s.kill.at) {
    const seen = (stats.agents ?? []).find((a) => a.id === s.kill!.agent)!.state;
    if (seen === 'down' && s.detectedAt === null) s = detected(s, at, null);
  }
  return s;
}

function onEvent(state: DemoState, e: AgentEvent, at: number): DemoState {
  if (e.type !== 'cluster.agent') {
    const line = describeEvent(e);
    return line ? append(state, at, e.agent && !line.text.includes(e.agent) ? `${e.agent}: ${line.text}` : line.text, line.tone) : state;
  }
  const id = e.agent ?? '?';
  const agents = state.agents.some((r) => r.id === id) ? state.agents.map((r) => (r.id === id ? { ...r, state: e.state } : r)) : [...state.agents, { id, state: e.state, pid: 0, inFlight: 0, rate: 0, restarts: 0 }].sort(byId);
  let s: DemoState = { ...state, agents, evented: { ...state.evented, [id]: true } };
  const isKilled = s.kill !== null && s.kill.agent === id && at >= s.kill.at;
  if (isKilled && e.state === 'down' && s.detectedAt === null) return detected(s, at, e.reason);
  if (isKilled && e.state === 'alive' && s.detectedAt !== null && s.recoveredAt === null) {
    s = { ...s, recoveredAt: at };
    return append(s, at, `router: ${id} alive again, ${formatSeconds(at - s.kill!.at)} after the kill (restarted by the router)`, 'good');
  }
  const tone: Tone = e.state === 'alive' ? 'good' : e.state === 'down' ? 'bad' : 'warn';
  return append(s, at, `router: ${id} ${e.state}${e.reason ? ` (${e.reason})` : ''}`, tone);
}

/** agent-2 before agent-10. */
function byId(a: AgentRow, b: AgentRow): number {
  return a.id.localeCompare(b.id, 'en', { numeric: true });
}

function detected(state: DemoState, at: number, reason: string | null): DemoState {
  const s = { ...state, detectedAt: at };
  return append(s, at, `router: ${s.kill!.agent} down, ${Math.round(at - s.kill!.at)} ms after the kill${reason ? ` (${reason})` : ''}; its calls go to the others`, 'bad');
}

function append(state: DemoState, at: number, text: string, tone: Tone): DemoState {
  if (state.log.length >= LOG_CAP) return { ...state, dropped: state.dropped + 1 };
  return { ...state, log: [...state.log, { seq: state.nextSeq, at, text, tone }], nextSeq: state.nextSeq + 1 };
}

// ── derived figures ──────────────────────────────────────────────────────

/** Calls answered per second over about the last second. */
export function callsPerSecond(state: DemoState): number {
  const first = state.answered[0];
  const last = state.answered[state.answered.length - 1];
  if (!first || !last || last.at <= first.at) return 0;
  return ((last.n - first.n) * 1000) / (last.at - first.at);
}

/** Time since the load started, ms (0 before). */
export function elapsedMs(state: DemoState): number {
  return state.loadStartedAt === null ? 0 : Math.max(0, state.now - state.loadStartedAt);
}

export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** Whole calls/s, with one decimal under 10. */
export function formatRate(perSecond: number): string {
  return perSecond >= 10 ? String(Math.round(perSecond)) : perSecond.toFixed(1).replace(/\.0$/, '');
}

/** The one line per second printed when stdout is not a terminal (on stderr). */
export function progressLine(state: DemoState): string {
  const c = state.counts;
  const head = `${formatSeconds(elapsedMs(state)).padStart(7)}  ${c.succeeded + c.failed}/${state.plan.requests} calls  ${formatRate(callsPerSecond(state))} calls/s  ${c.inFlight} in flight  ${c.failed} failed`;
  const agents = state.agents.map((a) => (a.state === 'alive' ? `${a.id} ${a.state} ${formatRate(a.rate)}/s` : `${a.id} ${a.state}`));
  return agents.length ? `${head}  |  ${agents.join(' · ')}` : head;
}

/** An event log line as printed (progress mode) and shown (live view). */
export function logLine(state: DemoState, e: LogEntry): string {
  return `${formatSeconds(state.loadStartedAt === null ? 0 : Math.max(0, e.at - state.loadStartedAt)).padStart(7)}  ${e.text}`;
}

// ── the summary ──────────────────────────────────────────────────────────

/** The agent that owns a session: the router's rendezvous hashing over every agent (placement.ts). */
export function sessionOwner(session: string, agentIds: readonly string[]): string | null {
  let best: { id: string; score: number } | null = null;
  for (const id of agentIds) {
    const score = rendezvousScore(session, id);
    if (best === null || score > best.score || (score === best.score && id < best.id)) best = { id, score };
  }
  return best?.id ?? null;
}

/**
 * Sessions that ran on another agent because theirs was killed: owned by the killed agent (the
 * router places a session by rendezvous hashing: while its owner is down, on the next agent in
 * that order) and called between the kill and the agent's return.
 */
export function movedSessions(sessionCalls: ReadonlyMap<string, readonly number[]>, agentIds: readonly string[], killed: string, from: number, to: number): string[] {
  const moved: string[] = [];
  for (const [session, times] of sessionCalls) {
    if (sessionOwner(session, agentIds) !== killed) continue;
    if (times.some((t) => t >= from && t <= to)) moved.push(session);
  }
  return moved.sort();
}

/** The agent to kill: the one owning most of the demo's sessions (so some visibly move); ties go to the lowest id. */
export function agentToKill(sessions: readonly string[], agentIds: readonly string[]): string {
  const owned = new Map(agentIds.map((id) => [id, 0]));
  for (const s of sessions) {
    const o = sessionOwner(s, agentIds);
    if (o !== null) owned.set(o, owned.get(o)! + 1);
  }
  return [...owned].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]![0];
}

/** The `--json` document of `cluster demo`. */
export interface DemoSummary {
  agents: number;
  requests: number;
  succeeded: number;
  failed: number;
  lost: number;
  killedAgent: string | null;
  /** SIGKILL → the router reports the agent down, ms (null: no kill, or never reported). */
  detectionMs: number | null;
  sessions: { total: number; moved: number };
  /** The load: first call started → last answer, ms. */
  durationMs: number;
  /** SIGKILL → the router reports the agent alive again (restarted), ms. */
  recoveryMs: number | null;
  /** Attempts the router moved to another agent. */
  retries: number;
  /** Failed calls by code. */
  errors: Record<string, number>;
  /** Ctrl-C stopped the demo before the load finished. */
  interrupted: boolean;
  /** The temporary home (removed). */
  home: string;
  /** Every process of the cluster the demo saw (router, agents, workers): none runs any more. */
  pids: number[];
}

export function summarize(input: { plan: DemoPlan; result: LoadResult; state: DemoState; agentIds: readonly string[]; retries: number; interrupted: boolean; home: string; pids: readonly number[] }): DemoSummary {
  const { plan, result, state } = input;
  const kill = state.kill;
  const moved = kill ? movedSessions(result.sessionCalls, input.agentIds, kill.agent, kill.at, state.recoveredAt ?? result.endedAt).length : 0;
  return {
    agents: plan.agents,
    requests: plan.requests,
    succeeded: result.succeeded,
    failed: result.failed,
    lost: result.lost,
    killedAgent: kill?.agent ?? null,
    detectionMs: kill && state.detectedAt !== null ? Math.round(state.detectedAt - kill.at) : null,
    sessions: { total: result.sessionCalls.size, moved },
    durationMs: Math.round(result.endedAt - result.startedAt),
    recoveryMs: kill && state.recoveredAt !== null ? Math.round(state.recoveredAt - kill.at) : null,
    retries: input.retries,
    errors: result.errors,
    interrupted: input.interrupted,
    home: input.home,
    pids: [...new Set(input.pids)].sort((a, b) => a - b),
  };
}

export function formatSummary(s: DemoSummary, plan: DemoPlan): string {
  const seconds = s.durationMs / 1000;
  const out = [
    `cluster demo: ${count(s.agents, 'agent')} × ${count(plan.workers, 'worker')}, ${s.requests} calls (concurrency ${plan.concurrency}) in ${seconds.toFixed(1)} s, ${Math.round((s.succeeded + s.failed) / Math.max(seconds, 0.001))} calls/s`,
    `  succeeded  ${s.succeeded}`,
    `  failed     ${s.failed}${s.failed ? ` (${Object.entries(s.errors).map(([c, n]) => `${c} ×${n}`).join(', ')})` : ''}`,
    `  lost       ${s.lost}`,
    `  retried    ${s.retries} attempts moved to another agent by the router`,
  ];
  if (s.killedAgent) {
    out.push(`  killed     ${s.killedAgent} midway: the router saw it down after ${s.detectionMs === null ? '(never reported)' : `${s.detectionMs} ms`}` + (s.recoveryMs === null ? ', and it was not back before the end' : `, and it served again after ${formatSeconds(s.recoveryMs)}`));
  } else {
    out.push(`  killed     none (${plan.kill ? 'stopped before the midpoint' : '--no-kill'})`);
  }
  out.push(`  sessions   ${s.sessions.total}, ${s.sessions.moved} moved to another agent${s.sessions.moved ? ' (their counters started again there)' : ''}`);
  if (s.interrupted) out.push('interrupted: the cluster was stopped and its home removed');
  else if (s.lost === 0 && s.failed === 0 && s.succeeded === s.requests) out.push(s.killedAgent ? 'No call was lost: every call succeeded, also those in flight on the killed agent.' : 'No call was lost: every call succeeded.');
  else out.push(`${s.requests - s.succeeded} of ${s.requests} calls did not succeed.`);
  out.push(`Nothing is left running; ${s.home} was removed.`);
  return out.join('\n');
}
