// Which agents may take a call, best first: a pure `(call, read-only view of the agents) → ranked
// candidates`, the shape of piscina's balancer. The router tries the first and falls back along
// the list (retry.ts says when it may).
//
// 1. Filter: an agent that is starting, down, cordoned or draining, whose breaker admits no call
//    now (`breaker: 'open'`; a half-open breaker whose probe slot is free admits one), that does
//    not serve the tool or lacks a required label is no candidate. A suspect agent is one, but
//    only behind every alive one: it may just be slow.
// 2. A call with a session: rendezvous (highest random weight) hashing, candidates by
//    murmur3(agentId, seed murmur3(session)) descending. The first is the session's owner, the rest
//    its fallback order (hint affinity). When an agent leaves only the sessions it owned move, and
//    when one joins it takes ~1/(n+1) of them from all others; any two routers with the same
//    membership agree on every owner without talking. (A consistent-hash ring needs virtual nodes
//    to get this balance; HRW costs n hashes per call, and n is small.)
// 3. A call without a session: power of two choices on load (Mitzenmacher): two distinct random
//    candidates, the less loaded first, then the rest by load. Two random picks avoid the herd
//    that "always the least loaded" makes of stale load reports, and keep the busiest agent within
//    a few calls of the mean.
import type { ClusterAgentState } from '../agent/events.js';
import type { ErrorInfo } from '../errors.js';
import { murmur3 } from './hash.js';

export type AgentState = ClusterAgentState;

/** As the breaker module shows it: `open` whenever it admits no call now (a half-open breaker whose probe is out included). */
export type BreakerView = 'closed' | 'open' | 'half-open';

/** What placement reads of an agent. The router builds it from membership, heartbeats and its own counters. */
export interface AgentView {
  readonly id: string;
  readonly state: AgentState;
  readonly breaker: BreakerView;
  /** Names of the tools it serves. */
  readonly tools: ReadonlySet<string>;
  readonly labels: Readonly<Record<string, string>>;
  /** The router's own calls in flight to it. */
  readonly inFlight: number;
  /** Its queue depth, as last reported. */
  readonly queueDepth: number;
  /** Calls it runs at once, as last reported. */
  readonly capacity: number;
}

export interface PlacementCall {
  readonly tool: string;
  readonly session: string | null;
  /** Labels an agent must carry, each with this exact value (`key=value`). */
  readonly require: Readonly<Record<string, string>>;
}

export type Rejection = 'starting' | 'down' | 'cordoned' | 'draining' | 'breaker-open' | 'tool-not-served' | 'labels';

export interface Placement {
  /** Best first. Empty when no agent can take the call (see `noCandidateError`). */
  readonly candidates: readonly AgentView[];
  /** Every other agent and why it was left out. */
  readonly rejected: readonly { readonly id: string; readonly reason: Rejection }[];
}

/** (inFlight + queueDepth) / capacity: 1 means as many calls as it runs at once. */
export function agentLoad(a: AgentView): number {
  return (a.inFlight + a.queueDepth) / Math.max(a.capacity, 1);
}

/** The rendezvous weight of `agentId` for `session` (unsigned 32-bit). */
export function rendezvousScore(session: string, agentId: string): number {
  return murmur3(agentId, murmur3(session));
}

function rejection(call: PlacementCall, a: AgentView): Rejection | null {
  if (a.state === 'starting' || a.state === 'down' || a.state === 'cordoned' || a.state === 'draining') return a.state;
  if (a.breaker === 'open') return 'breaker-open';
  if (!a.tools.has(call.tool)) return 'tool-not-served';
  for (const key in call.require) if (a.labels[key] !== call.require[key]) return 'labels';
  return null;
}

/** Ranks the agents that can take `call`. `random` (in [0, 1)) is used only for calls without a session. */
export function place(call: PlacementCall, agents: readonly AgentView[], random: () => number): Placement {
  const alive: AgentView[] = [];
  const suspect: AgentView[] = [];
  const rejected: { id: string; reason: Rejection }[] = [];
  for (const a of agents) {
    const why = rejection(call, a);
    if (why !== null) rejected.push({ id: a.id, reason: why });
    else (a.state === 'suspect' ? suspect : alive).push(a);
  }
  const rank = call.session === null ? (group: AgentView[]) => byLoad(group, random) : (group: AgentView[]) => byRendezvous(group, call.session!);
  return { candidates: [...rank(alive), ...rank(suspect)], rejected };
}

function byRendezvous(group: AgentView[], session: string): AgentView[] {
  const seed = murmur3(session);
  const scored = group.map((a) => ({ a, score: murmur3(a.id, seed) }));
  scored.sort((x, y) => y.score - x.score || (x.a.id < y.a.id ? -1 : x.a.id > y.a.id ? 1 : 0));
  return scored.map((s) => s.a);
}

function byLoad(group: AgentView[], random: () => number): AgentView[] {
  const rest = group.map((a) => ({ a, load: agentLoad(a) }));
  if (rest.length < 2) return rest.map((r) => r.a);
  const i = Math.floor(random() * rest.length);
  let j = Math.floor(random() * (rest.length - 1));
  if (j >= i) j++;
  // The less loaded of the two first; on a tie the first drawn (so ties spread at random too).
  const first = rest[j]!.load < rest[i]!.load ? j : i;
  const [winner] = rest.splice(first, 1);
  rest.sort((x, y) => x.load - y.load || (x.a.id < y.a.id ? -1 : x.a.id > y.a.id ? 1 : 0));
  return [winner!.a, ...rest.map((r) => r.a)];
}

/** The agent that owns `call`'s session now (the first rendezvous candidate), or null (no session, no candidate). */
export function sessionOwner(call: PlacementCall, agents: readonly AgentView[]): string | null {
  return ownerView(call, agents)?.id ?? null;
}

/** place()'s first candidate for a call with a session, in one pass without sorting or allocating. */
function ownerView(call: PlacementCall, agents: readonly AgentView[]): AgentView | null {
  if (call.session === null) return null;
  const seed = murmur3(call.session);
  let best: AgentView | null = null;
  let bestSuspect = false;
  let bestScore = 0;
  for (const a of agents) {
    if (rejection(call, a) !== null) continue;
    const suspect = a.state === 'suspect';
    const score = murmur3(a.id, seed);
    if (best === null || (bestSuspect && !suspect) || (bestSuspect === suspect && (score > bestScore || (score === bestScore && a.id < best.id)))) {
      best = a;
      bestSuspect = suspect;
      bestScore = score;
    }
  }
  return best;
}

/**
 * place()'s first candidate, without building the ranking (the router's first attempt at every
 * call; a retry, which must skip the agents tried, ranks them all with `place`). For a call
 * without a session it draws the same two random numbers as place() does for its first group.
 */
export function pick(call: PlacementCall, agents: readonly AgentView[], random: () => number): AgentView | null {
  if (call.session !== null) return ownerView(call, agents);
  let alive = 0;
  let suspect = 0;
  for (const a of agents) {
    if (rejection(call, a) !== null) continue;
    if (a.state === 'suspect') suspect++;
    else alive++;
  }
  const fromSuspects = alive === 0;
  const n = fromSuspects ? suspect : alive;
  if (n === 0) return null;
  if (n === 1) return nthEligible(call, agents, fromSuspects, 0);
  const i = Math.floor(random() * n);
  let j = Math.floor(random() * (n - 1));
  if (j >= i) j++;
  const first = nthEligible(call, agents, fromSuspects, i)!;
  const second = nthEligible(call, agents, fromSuspects, j)!;
  // As byLoad: the less loaded of the two; on a tie the first drawn.
  return agentLoad(second) < agentLoad(first) ? second : first;
}

/** The `k`-th agent (in view order) that placement keeps, among the suspect ones or the alive ones. */
function nthEligible(call: PlacementCall, agents: readonly AgentView[], suspects: boolean, k: number): AgentView | null {
  for (const a of agents) {
    if (rejection(call, a) !== null || (a.state === 'suspect') !== suspects) continue;
    if (k-- === 0) return a;
  }
  return null;
}

/**
 * For strict affinity: did the session's owner change? `before` is the owner the router last sent
 * the session to (an id), or the earlier view. True only when both have an owner and they differ:
 * the router then fails that one call with SESSION_WORKER_LOST and remembers the new owner. When
 * no agent can take the call now, nothing changed yet (the call fails with AGENT_UNAVAILABLE);
 * comparing with the remembered id rather than the previous view keeps an owner change across such
 * a gap from going unnoticed.
 */
export function ownerChanged(call: PlacementCall, before: readonly AgentView[] | string | null, after: readonly AgentView[]): boolean {
  const was = typeof before === 'string' || before === null ? before : sessionOwner(call, before);
  const now = sessionOwner(call, after);
  return was !== null && now !== null && was !== now;
}

/**
 * The error for a call with no candidate: TOOL_NOT_FOUND when no agent at all (whatever its state)
 * serves the tool, else AGENT_UNAVAILABLE, saying why each agent was left out.
 */
export function noCandidateError(call: PlacementCall, agents: readonly AgentView[], placement: Placement): ErrorInfo {
  if (agents.length > 0 && !agents.some((a) => a.tools.has(call.tool))) {
    return { code: 'TOOL_NOT_FOUND', message: `no agent of the cluster serves the tool '${call.tool}'` };
  }
  const reasons = placement.rejected.map((r) => `${r.id}: ${r.reason === 'labels' ? `lacks ${labelText(call.require)}` : r.reason}`);
  return {
    code: 'AGENT_UNAVAILABLE',
    message: agents.length === 0 ? `no agent in the cluster to run '${call.tool}'` : `no agent of the cluster can take the call to '${call.tool}' now (${reasons.join('; ')})`,
  };
}

function labelText(require: Readonly<Record<string, string>>): string {
  return Object.entries(require)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}
