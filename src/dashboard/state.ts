// The dashboard's state and its pure reducer. Everything the screen shows is derived from the
// actions here: stats snapshots and agent events from one WatchEvents stream, connection changes
// reported by the container, and key presses. Nothing here reads a clock or does I/O: times come
// in with the actions, so the reducer is tested as plain data.
//
// Connected to a router (stats.agent.kind 'router', with stats.agents) the same state also
// drives the cluster view: an agent table with each agent's calls/s, derived here from the
// agents' own successive snapshots, a selected agent whose workers are listed, and a focus that
// says which of the two tables the arrows move in.
import type { AgentEvent, AgentStats } from '../client/types.js';

/** One agent of a router's snapshot (ClusterAgentStats of src/client/types.ts). */
export type ClusterAgent = NonNullable<AgentStats['agents']>[number];
export type WorkerRow = AgentStats['workers'][number];

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

/** Behind a router: the table the arrows move in (the agents, or the selected agent's workers). */
export type Focus = 'agents' | 'workers';

/** What a calls/s sample is measured against: the previous snapshot of the same run. */
export interface RateBase {
  runId: string;
  /** completed + failed. */
  calls: number;
  /** The agent's own uptime: the clock of the rate, so delays of the stream do not distort it. */
  uptimeMs: number;
}

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
  base: RateBase | null;
  /** Index of the selected row into the shown workers (selectedWorkers: all, or the selected agent's). */
  selected: number;
  /** Behind a router: calls/s of each agent between its last two snapshots, by agent id. */
  agentRates: Readonly<Record<string, number>>;
  /** Behind a router: each agent's previous snapshot, by agent id. */
  agentBases: Readonly<Record<string, RateBase>>;
  /** Behind a router: the id of the selected agent (an id, so a changed list keeps it). */
  selectedAgent: string | null;
  focus: Focus;
  /** `d` was pressed once: the next `d` drains (the agent, or the selected agent of a cluster), any other key cancels. */
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
  /** Moves the selection of the focused table. */
  | { type: 'select'; delta: number }
  | { type: 'focus'; to: Focus | 'toggle' }
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
    agentRates: {},
    agentBases: {},
    selectedAgent: null,
    focus: 'agents',
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
      const e = action.event;
      // Behind a router, say whose event it is: the router's own are the cluster's.
      const router = isCluster(state.stats) ? state.stats.agent.id : null;
      const own = !router || !e.agent || e.agent === router;
      const line = describeEvent(e, router && own ? 'cluster' : 'agent');
      if (!line) return state;
      return appendLog(state, action.at, own || e.type === 'cluster.agent' ? line.text : `${e.agent}: ${line.text}`, line.tone);
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
      const agents = clusterAgents(state);
      if (agents && state.focus === 'agents') {
        const at = Math.max(0, agents.findIndex((a) => a.id === state.selectedAgent));
        const next = agents[clamp(at + action.delta, 0, agents.length - 1)]?.id ?? null;
        return { ...state, selectedAgent: next, selected: next === state.selectedAgent ? state.selected : 0, confirmDrain: false };
      }
      const count = selectedWorkers(state).length;
      return { ...state, selected: clamp(state.selected + action.delta, 0, count - 1), confirmDrain: false };
    }
    case 'focus': {
      if (!clusterAgents(state)) return state;
      const focus = action.to === 'toggle' ? (state.focus === 'agents' ? 'workers' : 'agents') : action.to;
      return focus === state.focus ? state : { ...state, focus, confirmDrain: false };
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

/** Calls/s between two snapshots of the same run, or null when they cannot make a rate. */
export function callRate(base: RateBase | null | undefined, now: RateBase): number | null {
  // A rate needs two snapshots of the same run, in order.
  if (!base || base.runId !== now.runId || now.uptimeMs <= base.uptimeMs || now.calls < base.calls) return null;
  return ((now.calls - base.calls) * 1000) / (now.uptimeMs - base.uptimeMs);
}

function rateBase(stats: Pick<AgentStats, 'agent' | 'calls'>): RateBase {
  return { runId: stats.agent.runId, calls: stats.calls.completed + stats.calls.failed, uptimeMs: stats.agent.uptimeMs };
}

/** Agent ids in natural order (agent-2 before agent-10): a router lists its agents in join order, which changes from run to run. */
const byId = (a: ClusterAgent, b: ClusterAgent): number => a.id.localeCompare(b.id, 'en', { numeric: true });

function onStats(state: DashboardState, snapshot: AgentStats, at: number): DashboardState {
  const stats = snapshot.agents ? { ...snapshot, agents: [...snapshot.agents].sort(byId) } : snapshot;
  const base = rateBase(stats);
  const sameRun = state.base?.runId === base.runId;
  const rate = callRate(state.base, base);
  const throughput = rate === null ? state.throughput : [...state.throughput, rate].slice(-HISTORY_LENGTH);
  // Each agent of a router: its own calls over its own uptime (an agent that did not answer this
  // time has no rate; its last base stays for the next one).
  const agentRates: Record<string, number> = {};
  const agentBases: Record<string, RateBase> = {};
  for (const a of stats.agents ?? []) {
    const before = state.agentBases[a.id];
    if (!a.stats) {
      if (before) agentBases[a.id] = before;
      continue;
    }
    const now = rateBase(a.stats);
    agentBases[a.id] = now;
    const r = callRate(before, now);
    if (r !== null) agentRates[a.id] = r;
  }
  const agents = stats.agents;
  const selectedAgent = !agents ? null : agents.some((a) => a.id === state.selectedAgent) ? state.selectedAgent : (agents[0]?.id ?? null);
  const shown = agents ? stats.workers.filter((w) => w.agent === selectedAgent) : stats.workers;
  const next: DashboardState = {
    ...state,
    connection: 'live',
    problem: null,
    retryInMs: 0,
    stats,
    throughput,
    base,
    selected: selectedAgent === state.selectedAgent ? clamp(state.selected, 0, shown.length - 1) : 0,
    agentRates,
    agentBases,
    selectedAgent,
    focus: agents ? state.focus : 'agents',
    // A pending drain was for the agent selected then.
    confirmDrain: state.confirmDrain && selectedAgent === state.selectedAgent,
    // Feedback about the last action goes once old, or when another agent run is shown.
    notice: state.notice && sameRun && at - state.notice.at < NOTICE_MS ? state.notice : null,
  };
  const who = isCluster(stats)
    ? `router pid ${stats.agent.pid} (v${stats.agent.version}, run ${stats.agent.runId.slice(0, 8)}, ${stats.agents.length} agents)`
    : `agent pid ${stats.agent.pid} (v${stats.agent.version}, run ${stats.agent.runId.slice(0, 8)})`;
  if (!sameRun) return appendLog(next, at, `connected to ${who}`, 'good');
  if (state.connection === 'lost') return appendLog(next, at, `reconnected to ${who}`, 'good');
  return next;
}

function appendLog(state: DashboardState, at: number, text: string, tone: Tone): DashboardState {
  const entry: LogEntry = { seq: state.nextSeq, at, text, tone };
  const full = state.log.entries.length >= LOG_CAP;
  const log = full ? { epoch: state.log.epoch + 1, entries: [entry] } : { epoch: state.log.epoch, entries: [...state.log.entries, entry] };
  return { ...state, log, nextSeq: state.nextSeq + 1 };
}

/**
 * The log line of an event, or null for events the log leaves out (spawns, expected exits, calls).
 * `self` names the emitter in the lines about its own lifecycle ('cluster' for a router).
 */
export function describeEvent(e: AgentEvent, self = 'agent'): { text: string; tone: Tone } | null {
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
    case 'pool.resized':
      return { text: `pool ${e.pool} scaled from ${e.previous} to ${e.size} workers`, tone: 'info' };
    case 'agent.draining':
      return { text: `${self} draining${e.deadlineMs ? ` (deadline ${e.deadlineMs} ms)` : ''}`, tone: 'warn' };
    case 'agent.stopping':
      return { text: `${self} stopping`, tone: 'warn' };
    case 'cluster.agent':
      return { text: `agent ${e.agent} ${e.state}${e.reason ? `: ${e.reason}` : ''}`, tone: e.state === 'alive' ? 'good' : e.state === 'down' ? 'bad' : 'warn' };
    case 'agent.stopped':
      return { text: `${self} stopped`, tone: 'warn' };
    case 'worker.spawned':
    case 'call.finished':
      return null;
  }
}

/** Whether a snapshot is a router's (the cluster view), with its agents. */
export function isCluster(stats: AgentStats | null): stats is AgentStats & { agents: ClusterAgent[] } {
  return stats?.agent.kind === 'router' && Array.isArray(stats.agents);
}

/** A router's agents, or null for a single agent. */
export function clusterAgents(state: DashboardState): ClusterAgent[] | null {
  return isCluster(state.stats) ? state.stats.agents : null;
}

export function selectedAgent(state: DashboardState): ClusterAgent | undefined {
  return clusterAgents(state)?.find((a) => a.id === state.selectedAgent);
}

/** The workers the worker table shows: all of an agent's, or those of a cluster's selected agent. */
export function selectedWorkers(state: DashboardState): WorkerRow[] {
  const stats = state.stats;
  if (!stats) return [];
  return isCluster(stats) ? stats.workers.filter((w) => w.agent === state.selectedAgent) : stats.workers;
}

/** The selected worker row, if any. */
export function selectedWorker(state: DashboardState): WorkerRow | undefined {
  return selectedWorkers(state)[state.selected];
}

export interface ClusterTotals {
  agents: number;
  alive: number;
  workers: number;
  inFlight: number;
  /** Sum of the agents' calls/s; null while no agent has a rate yet. */
  callsPerSec: number | null;
}

/** The totals row of the agent table. */
export function clusterTotals(agents: readonly ClusterAgent[], rates: Readonly<Record<string, number>>): ClusterTotals {
  let callsPerSec: number | null = null;
  for (const a of agents) if (rates[a.id] !== undefined) callsPerSec = (callsPerSec ?? 0) + rates[a.id]!;
  return {
    agents: agents.length,
    alive: agents.filter((a) => a.state === 'alive').length,
    workers: agents.reduce((n, a) => n + a.workerPids.length, 0),
    inFlight: agents.reduce((n, a) => n + a.inFlight, 0),
    callsPerSec,
  };
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? '';
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, n));
}
