// The one seam of the Agent API (ARCHITECTURE.md, "One seam, two sides"): what an agent offers,
// whoever offers it. The in-process `Agent` implements it, so does `RemoteAgent` (an agent
// reached over its socket), and so does the router (over several remote agents). The gRPC
// server and the local lane serve any implementation; `startAgent()` and `connect()` are one
// client wrapper over any implementation (src/client/client.ts). Nothing above this interface
// knows which one it holds.
//
// Calls are push-style (a sink, and a control to cancel) so that bytes pass through untouched:
// arguments and results stay encoded JSON plus raw byte sections from the client to the worker.
import type { AgentRequest } from '../agent/agent.js';
import type { AgentEvent } from '../agent/events.js';
import type { CallControl } from '../agent/pool.js';
import type { ErrorInfo } from '../errors.js';
import type { EncodedValue } from '../protocol/values.js';
import type { CallSink } from '../worker/channel.js';
import type { AgentStats, ClusterOutcome, ReloadResult, ScaleResult, ToolInfo, WatchOptions, WatchUpdate } from '../client/types.js';

export type { AgentRequest, AgentStats, ToolInfo, AgentEvent, CallControl, CallSink, EncodedValue, ClusterOutcome };

/** What a grpc.health.v1 probe hears: serving while calls are taken. */
export interface AgentHealth {
  serving: boolean;
  reason: string | null;
}

/** An agent's load, as its heartbeats carry it (every `clusterHeartbeatMs`) to a router. */
export interface AgentLoad {
  /** Calls running on workers. */
  inFlight: number;
  /** Calls waiting for a worker. */
  queueDepth: number;
  /** Calls the ready workers can run at once. */
  capacity: number;
  /** Sessions the agent remembers. */
  sessions: number;
  /** Taking calls (not draining, stopping or degraded). */
  serving: boolean;
}

export type ClusterRequest =
  | { op: 'cordon' | 'uncordon'; agent: string }
  | { op: 'drain'; agent: string; deadlineMs?: number }
  | { op: 'scale'; count: number };

export interface EventOptions {
  /** Also `call.finished`, one per call (costly over a network: only for metrics-like consumers). */
  calls?: boolean;
}

/** What a watch delivers: stats snapshots (at once, then every interval), events, and `lagged`. */
export type { WatchUpdate, WatchOptions } from '../client/types.js';

export type { ReloadResult, ScaleResult } from '../client/types.js';

export interface AgentApi {
  /** The agent's id (stable for its home), or the router's: it appears in stats, events and errors. */
  readonly id: string;
  /** One result per call: a streaming tool's chunks come back as one array. */
  execute(req: AgentRequest, done: (error: ErrorInfo | null, value?: EncodedValue) => void): CallControl;
  /** A stream per call: a plain tool's result is its only chunk. */
  stream(req: AgentRequest, sink: CallSink): CallControl;
  tools(pool?: string): Promise<ToolInfo[]>;
  stats(): Promise<AgentStats>;
  health(): Promise<AgentHealth>;
  load(): Promise<AgentLoad>;
  /** New calls fail with DRAINING; resolves once accepted calls finished (false: the deadline came first). */
  drain(deadlineMs?: number): Promise<boolean>;
  /**
   * Replaces every worker one at a time; an agent started from a config re-reads it first (a new
   * size resizes the pool, other settings apply to the replacements). Resolves with how many
   * workers were replaced and each setting that changed.
   */
  reload(pool?: string): Promise<ReloadResult>;
  /** Grows or shrinks a pool (default: the first) to `size` workers. */
  scale(size: number, pool?: string): Promise<ScaleResult>;
  restartWorker(worker: string): Promise<void>;
  /** A router's operations on its agents (an agent has none: `cluster` is absent). */
  cluster?(request: ClusterRequest): Promise<ClusterOutcome>;
  /** Graceful stop: in-flight calls finish, then every worker (and process behind this) stops. */
  shutdown(graceMs?: number): Promise<void>;
  /**
   * A live view: a stats snapshot at once and every `intervalMs`, and every event of the catalog
   * (src/agent/events.ts) as it happens; `end` once when the source goes away (an error when it
   * was lost rather than stopped). Returns the function that stops watching.
   */
  watch(options: WatchOptions, push: (update: WatchUpdate) => void, end: (err?: Error) => void): () => void;
}
