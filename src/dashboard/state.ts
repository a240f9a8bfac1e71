// The dashboard's state and its pure reducer. Everything the screen shows is derived from the
// actions here: stats snapshots and agent events from one WatchEvents stream, connection changes
// reported by the container, and key presses. Nothing here reads a clock or does I/O: times come
// in with the actions, so the reducer is tested as plain data.
import type { AgentEvent, AgentStats } from '../client/types.js';

/** Samples of calls/s kept for the sparkline. */
export const HISTORY_LENGTH = 30;
/** Event log entries kept in memory: older ones are already on the terminal (<Static>). */
export const LOG_CAP = 100;
/** A notice stays on the status line this long (it goes at the first snapshot after), ms. */
export const NOTICE_MS = 5_000;

export type Tone = 'info' | 'good' | 'warn' | 'bad';

export interface LogEntry {
  /** Increases by one per entry over the whole run: React key and order. */
  seq: number;
  /** Wall-clock time of the entry, ms since the epoch. */
  at: number;
  text: string;
  tone: Tone;
}

/**
 * `connecting`: the first attempt is under way; `live`: snapshots flow; `absent`: no agent has
 * answered since the dashboard started; `lost`: an agent answered before and is gone now.
 */
export type Connection = 'connecting' | 'live' | 'absent' | 'lost';

export interface DashboardState {
  connection: Connection;
  /** Why the last attempt failed (shown while not live). */
  problem: string | null;
  /** Delay before the next attempt, ms (while not live). */
  retryInMs: number;
  stats: AgentStats | null;
  /** Calls/s between successive snapshots, oldest first, at most HISTORY_LENGTH. */
  throughput: number[];
  /** completed+failed and agent uptime of the previous snapshot of the same run. */
  base: { runId: string; calls: number; uptimeMs: number } | null;
  /** Index into stats.workers of the selected row. */
  selected: number;
  /** `d` was pressed once: the next `d` drains, any other key cancels. */
  confirmDrain: boolean;
  /** One line of feedback about the last action (restart requested, drain failed…). */
  notice: { text: string; tone: Tone; at: number } | null;
  /**
   * Recent log entries. `epoch` changes when the list is restarted at LOG_CAP: the view keys its
   * <Static> on it, so a fresh <Static> prints only the entries of the new epoch.
   */
  log: { epoch: number; entries: LogEntry[] };
  nextSeq: number;
}

export type DashboardAction =
  | { type: 'stats'; stats: AgentStats; at: number }
  | { type: 'event'; event: AgentEvent; at: number }
  /** The watch stream failed or ended; the container retries after `retryInMs`. */
  | { type: 'disconnected'; reason: string; retryInMs: number; at: number }
  | { type: 'select'; delta: number }
  | { type: 'drain.ask' }
  | { type: 'drain.cancel' }
  | { type: 'notice'; text: string; tone: Tone; at: number; log?: boolean };

export function initialState(): DashboardState {
  return {
    connection: 'connecting',
    problem: null,
    retryInMs: 0,
    stats: null,
    throughput: [],
    base: null,
    selected: 0,
    confirmDrain: false,
    notice: null,
    log: { epoch: 0, entries: [] },
    nextSeq: 0,
  };
}

export function reduce(state: DashboardState, action: DashboardAction): DashboardState {
  switch (action.type) {
    case 'stats':
      return onStats(state, action.stats, action.at);
    case 'event': {
      const line = describeEvent(action.event);
      return line ? appendLog(state, action.at, line.text, line.tone) : state;
    }
    case 'disconnected': {
      const wasLive = state.connection === 'live';
      const next: DashboardState = {
        ...state,
        connection: state.connection === 'live' || state.connection === 'lost' ? 'lost' : 'absent',
        problem: action.reason,
        retryInMs: action.retryInMs,
        confirmDrain: false,
      };
      // Only the transition is logged, not every failed retry.
      return wasLive ? appendLog(next, action.at, 'agent not reachable', 'bad') : next;
    }
    case 'select': {
      const count = state.stats?.workers.length ?? 0;
      return { ...state, selected: clamp(state.selected + action.delta, 0, count - 1), confirmDrain: false };
    }
    case 'drain.ask':
      return { ...state, confirmDrain: true, notice: null };
    case 'drain.cancel':
      return state.confirmDrain ? { ...state, confirmDrain: false } : state;
    case 'notice': {
      const next = { ...state, notice: { text: action.text, tone: action.tone, at: action.at } };
      return action.log ? appendLog(next, action.at, action.text, action.tone) : next;
    }
  }
}

function onStats(state: DashboardState, stats: AgentStats, at: number): DashboardState {
  const calls = stats.calls.completed + stats.calls.failed;
  const base = state.base;
  const sameRun = base?.runId === stats.agent.runId;
  let throughput = state.throughput;
  // A rate needs two snapshots of the same agent run, in order; the agent's own uptime is the
  // clock, so delays of the stream do not distort it.
  if (base && sameRun && stats.agent.uptimeMs > base.uptimeMs && calls >= base.calls) {
    const rate = ((calls - base.calls) * 1000) / (stats.agent.uptimeMs - base.uptimeMs);
    throughput = [...throughput, rate].slice(-HISTORY_LENGTH);
  }
  const next: DashboardState = {
    ...state,
    connection: 'live',
    problem: null,
    retryInMs: 0,
    stats,
    throughput,
    base: { runId: stats.agent.runId, calls, uptimeMs: stats.agent.uptimeMs },
    selected: clamp(state.selected, 0, stats.workers.length - 1),
    // Feedback about the last action goes once old, or when another agent run is shown.
    notice: state.notice && sameRun && at - state.notice.at < NOTICE_MS ? state.notice : null,
  };
  const agent = `agent pid ${stats.agent.pid} (v${stats.agent.version}, run ${stats.agent.runId.slice(0, 8)})`;
  if (!sameRun) return appendLog(next, at, `connected to ${agent}`, 'good');
  if (state.connection === 'lost') return appendLog(next, at, `reconnected to ${agent}`, 'good');
  return next;
}

function appendLog(state: DashboardState, at: number, text: string, tone: Tone): DashboardState {
  const entry: LogEntry = { seq: state.nextSeq, at, text, tone };
  const full = state.log.entries.length >= LOG_CAP;
  const log = full ? { epoch: state.log.epoch + 1, entries: [entry] } : { epoch: state.log.epoch, entries: [...state.log.entries, entry] };
  return { ...state, log, nextSeq: state.nextSeq + 1 };
}

/** The log line of an event, or null for events the log leaves out (spawns, expected exits, calls). */
export function describeEvent(e: AgentEvent): { text: string; tone: Tone } | null {
  switch (e.type) {
    case 'worker.ready':
      return { text: `worker ${e.worker} started (pid ${e.pid}, ${e.startupMs} ms)`, tone: 'good' };
    case 'worker.recycled':
      return { text: `worker ${e.worker} recycled (pid ${e.pid}): ${e.reason}`, tone: 'info' };
    case 'worker.exited':
      if (e.expected) return null;
      return { text: `worker ${e.worker} crashed (pid ${e.pid}, ${e.signal ?? `exit ${e.code}`})${e.reason ? `: ${e.reason}` : ''}`, tone: 'bad' };
    case 'worker.unhealthy':
      return { text: `worker ${e.worker} unhealthy (pid ${e.pid}, ${e.missedPings} heartbeats missed)`, tone: 'warn' };
    case 'pool.degraded':
      return { text: `pool ${e.pool} degraded: ${firstLine(e.reason)}`, tone: 'bad' };
    case 'agent.draining':
      return { text: `agent draining${e.deadlineMs ? ` (deadline ${e.deadlineMs} ms)` : ''}`, tone: 'warn' };
    case 'agent.stopping':
      return { text: 'agent stopping', tone: 'warn' };
    case 'cluster.agent':
      return { text: `agent ${e.agent} ${e.state}${e.reason ? `: ${e.reason}` : ''}`, tone: e.state === 'alive' ? 'good' : e.state === 'down' ? 'bad' : 'warn' };
    case 'agent.stopped':
      return { text: 'agent stopped', tone: 'warn' };
    case 'worker.spawned':
    case 'call.finished':
      return null;
  }
}

/** The selected worker row, if any. */
export function selectedWorker(state: DashboardState): AgentStats['workers'][number] | undefined {
  return state.stats?.workers[state.selected];
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? '';
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, n));
}
