// The one catalog of agent events. Stats, the process registry, logs and (later) WatchEvents
// and /metrics all derive from these, so every consumer sees the same facts. The catalog is
// public (src/index.ts), so the small types its events carry are declared here and imported by
// the modules that produce them: this file imports nothing, so a consumer's type check never
// reaches the engine's declarations (which use Node's types).

/** How a worker's descendants are contained (src/agent/containment.ts). */
export type ContainmentKind = 'cgroup2' | 'cgroup1' | 'subreaper';

/** A router's view of one of its agents (src/cluster/placement.ts). */
export type ClusterAgentState = 'starting' | 'alive' | 'suspect' | 'down' | 'cordoned' | 'draining';

export type AgentEvent = (
  /** A worker process was spawned (before it is ready). `startTime` as src/proc.ts reads it. */
  | { type: 'worker.spawned'; pool: string; worker: string; pid: number; pgid: number; startTime: number; cmdline: string[]; containment?: ContainmentKind; cgroup?: string }
  | { type: 'worker.ready'; pool: string; worker: string; pid: number; startupMs: number }
  | { type: 'worker.exited'; pool: string; worker: string; pid: number; code: number | null; signal: string | null; expected: boolean; reason: string | null }
  | { type: 'worker.recycled'; pool: string; worker: string; pid: number; reason: string }
  | { type: 'worker.unhealthy'; pool: string; worker: string; pid: number; missedPings: number }
  | { type: 'pool.degraded'; pool: string; reason: string }
  /** `snakepit scale`, or a reloaded config's new size. */
  | { type: 'pool.resized'; pool: string; previous: number; size: number }
  /** Every finished call (emitted only while someone listens): metrics and the dashboard. */
  | { type: 'call.finished'; pool: string; tool: string; ms: number; code: string | null }
  | { type: 'agent.draining'; deadlineMs: number | null }
  /** A router's view of one of its agents changed (`agent` is that agent's id). */
  | { type: 'cluster.agent'; state: ClusterAgentState; reason: string | null }
  /** A graceful stop began (no new calls; health probes hear NOT_SERVING). */
  | { type: 'agent.stopping' }
  | { type: 'agent.stopped' }
) & {
  /** The agent that emitted it (set by the agent: a router's watchers see many). */
  agent?: string;
};

export type AgentEventType = AgentEvent['type'];

export type EventSink = (event: AgentEvent) => void;
