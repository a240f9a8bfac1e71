// What every Snakepit client offers, embedded (startAgent) or remote (connect): the same calls,
// the same options, the same typed errors, and the documents they return. These are public
// (src/index.ts): declarations only, importing nothing but the event catalog, so a consumer's
// type check never reaches the engine's declarations, which use Node's types (Buffer,
// NodeJS.*, EventEmitter) and grpc-js's. The engine (agent, router, worker channel) imports
// the shapes it produces from here.
import type { AgentEvent, ClusterAgentState } from '../agent/events.js';

export type { AgentEvent };

export interface ParamDescription {
  name: string;
  type: string;
  required: boolean;
  default: unknown;
  kind?: string;
}

/** A tool as its worker describes it (the READY message). */
export interface ToolDescription {
  name: string;
  doc: string;
  params: ParamDescription[];
  stream: boolean;
}

export interface ToolInfo extends ToolDescription {
  pool: string;
  /** Through a router: the agents that serve it. */
  agents?: string[];
}

/** The stats document (`snakepit stats --json`, the Stats RPC). */
export interface AgentStats {
  agent: {
    id: string;
    pid: number;
    version: string;
    runId: string;
    uptimeMs: number;
    kind?: 'agent' | 'router';
    /** A daemon serving the Agent API on TCP: where it listens, what others dial, and how (TLS, mTLS or plaintext). */
    network?: { listen: string; advertise: string; transport: 'tls' | 'mtls' | 'insecure' };
    /** Labels given to the daemon (`up --labels`). */
    labels?: Record<string, string>;
    /** What the daemon warns about (e.g. plaintext off loopback); `stats`, `doctor` and `cluster status` print them. */
    warnings?: string[];
  };
  /** Each worker; behind a router, `agent` says whose. */
  workers: Array<{ id: string; pid: number; state: string; requests: number; inFlight: number; rssBytes: number; uptimeMs: number; restarts: number; recycles: number; pool: string; agent?: string }>;
  pools: Array<{ name: string; size: number; affinity: string; degraded: string | null; tools: number; recycled: number; queueDepth: number }>;
  queue: { depth: number };
  /** Behind a router: its own calls (retries: attempts it moved to another agent). */
  calls: { completed: number; failed: number; inFlight: number; retries?: number };
  latencyMs: { p50: number; p99: number };
  /** A router's agents. */
  agents?: ClusterAgentStats[];
  /** A router: where its agents come from (`etcd`: `degraded` while etcd is unreachable and the last view is used). */
  membership?: { kind: 'local' | 'etcd'; state: 'ok' | 'degraded'; endpoints?: string[]; since?: number; lastError?: string | null };
}

/** How a router reports one of its agents (stats.agents[], `cluster status`). */
export interface ClusterAgentStats {
  id: string;
  address: string;
  pid: number;
  state: ClusterAgentState;
  labels: Record<string, string>;
  workerPids: number[];
  inFlight: number;
  queueDepth: number;
  capacity: number;
  sessions: number;
  phi: number;
  breaker: string;
  version: string;
  restarts: number;
  /** The agent's own stats document (null when it did not answer). */
  stats: AgentStats | null;
}

/** What a cluster operation (cordon, drain, scale) did. */
export interface ClusterOutcome {
  /** The agent operated on and its state now (cordon, uncordon, drain). */
  agent?: string;
  state?: string;
  /** drain: false when the deadline stopped it with calls left. */
  drained?: boolean;
  /** Agents in the cluster now. */
  agents: string[];
}

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

/**
 * What a call uses of its AbortSignal. Not the global AbortSignal type: a consumer has that only
 * with the DOM lib or @types/node. Any AbortSignal (Node's, the DOM's) fits.
 */
export interface AbortSignalLike {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface CallOptions {
  /** Session id: calls of one session go to the same worker while it lives. */
  session?: string;
  /** Deadline for the whole call (queue wait plus execution), ms. */
  timeoutMs?: number;
  /** The call may be retried once on another worker if its worker crashes. */
  idempotent?: boolean;
  /** Aborting removes a queued call or cancels the running one (`CANCELLED`). */
  signal?: AbortSignalLike;
  /** Pool to run in (default: the agent's first pool). */
  pool?: string;
  /** Through a router: only an agent carrying all these labels takes the call (e.g. `{ gpu: 'a100' }`). */
  require?: Record<string, string>;
}

export interface ReloadResult {
  replaced: number;
  /** What the re-read config changed, one line each (e.g. "pool default: workers 2 → 4"). */
  changes: string[];
}

export interface ScaleResult {
  pool: string;
  previous: number;
  size: number;
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

/** What `startAgent()` and `connect()` both offer beyond calls: reload and resize. */
export interface ManagedClient extends SnakepitClient {
  /** Replaces every worker one at a time (new code is imported); resolves with the count. */
  reload(pool?: string): Promise<number>;
  /** `reload`, also saying what a re-read config changed (an agent started from a config). */
  reloadReport(pool?: string): Promise<ReloadResult>;
  /** Grows or shrinks a pool (default: the first) to `size` workers (through a router: on each agent). */
  scalePool(size: number, opts?: { pool?: string }): Promise<ScaleResult>;
}
