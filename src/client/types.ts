// What every Snakepit client offers, embedded (startAgent) or remote (connect): the same calls,
// the same options, the same typed errors.
import type { AgentStats, ToolInfo } from '../agent/agent.js';
import type { AgentEvent } from '../agent/events.js';

export type { AgentStats, ToolInfo, AgentEvent };

/**
 * One item of a watch stream: a stats snapshot (at once, then every interval), an event, or
 * `lagged`: the consumer read too slowly, `dropped` events were left out (and snapshots
 * coalesced); a fresh snapshot follows.
 */
export type WatchUpdate = { type: 'stats'; stats: AgentStats } | { type: 'event'; event: AgentEvent } | { type: 'lagged'; dropped: number };

export interface WatchOptions {
  /** Interval of stats snapshots, ms (default DEFAULTS.watchIntervalMs). */
  intervalMs?: number;
  /** Also deliver a `call.finished` event per call. */
  calls?: boolean;
}

export interface CallOptions {
  /** Session id: calls of one session go to the same worker while it lives. */
  session?: string;
  /** Deadline for the whole call (queue wait plus execution), ms. */
  timeoutMs?: number;
  /** The call may be retried once on another worker if its worker crashes. */
  idempotent?: boolean;
  /** Aborting removes a queued call or cancels the running one (`CANCELLED`). */
  signal?: AbortSignal;
  /** Pool to run in (default: the agent's first pool). */
  pool?: string;
  /** Through a router: only an agent carrying all these labels takes the call (e.g. `{ gpu: 'a100' }`). */
  require?: Record<string, string>;
}

export interface SnakepitClient {
  execute<T = unknown>(tool: string, args?: Record<string, unknown>, options?: CallOptions): Promise<T>;
  stream<T = unknown>(tool: string, args?: Record<string, unknown>, options?: CallOptions): AsyncIterableIterator<T>;
  tools(options?: { pool?: string }): Promise<ToolInfo[]>;
  stats(): Promise<AgentStats>;
  /** Live updates until the iterator is closed (break) or the agent stops. */
  watch(options?: WatchOptions): AsyncIterableIterator<WatchUpdate>;
  /** Replaces one worker by id (its replacement is ready before it stops). */
  restartWorker(id: string): Promise<void>;
}
