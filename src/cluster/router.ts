// The router: several agents as one service with the same Agent API (it implements the AgentApi
// seam, so the same server code serves it and every client works unchanged against it). One
// agent per host stays the authority over its workers; the router only chooses an agent
// ("federated pools with a router"). Calls pass through as bytes: it never parses arguments or
// results.
//
// For each call: membership → failure detection → placement → circuit breaker → retry.
// - Membership (local-membership.ts, etcd later) says who the agents are and when a process exits.
// - Failure detection is layered: an observed exit or a broken heartbeat stream stops routing to
//   an agent at once; a silent one is found by its phi-accrual detector (failure-detector.ts), fed
//   by the heartbeats every agent pushes (with its load) on a long-lived stream.
// - Placement (placement.ts, pure): sessions by rendezvous hashing, the rest by two choices on load.
// - A breaker per agent (breaker.ts) counts only agent-caused failures.
// - Retries (retry.ts): a call that never ran goes to the next candidate; one that may have run
//   only when idempotent; bounded attempts, jittered backoff, and a retry budget.
import { randomBytes } from 'node:crypto';
import type { AgentRequest } from '../agent/agent.js';
import type { AgentStats, ClusterAgentStats, ToolInfo } from '../client/types.js';
import type { AgentEvent } from '../agent/events.js';
import { LatencyWindow } from '../agent/latency.js';
import type { AgentLogger } from '../agent/log.js';
import { SessionTable } from '../agent/sessions.js';
import type { AgentApi, AgentHealth, AgentLoad, CallControl, CallSink, ClusterOutcome, ClusterRequest, EncodedValue, ReloadResult, ScaleResult, WatchOptions, WatchUpdate } from '../api/agent-api.js';
import { RemoteAgent } from '../api/remote-agent.js';
import { DEFAULTS } from '../defaults.js';
import { SnakepitError, type ErrorInfo } from '../errors.js';
import { VERSION } from '../paths.js';
import { CircuitBreaker, type BreakerTicket } from './breaker.js';
import { PhiAccrualDetector } from './failure-detector.js';
import type { MemberInfo, Membership, MembershipStatus } from './local-membership.js';
import type { ClientSecurity } from '../security/client.js';
import { noCandidateError, ownerChanged, pick, place, sessionOwner, type AgentState, type AgentView, type Placement, type PlacementCall } from './placement.js';
import { RetryBudget, retryDecision } from './retry.js';

/** What the router holds of one agent: the Agent API plus its heartbeats (a RemoteAgent; a fake in tests). */
export type AgentConnection = Pick<AgentApi, 'tools' | 'stats' | 'drain' | 'reload' | 'scale' | 'restartWorker' | 'watch'> & Pick<RemoteAgent, 'call' | 'heartbeats' | 'close'>;

export interface RouterOptions {
  /** The router's id (kept in its home's agent.id). */
  id: string;
  membership: Membership;
  logger: AgentLogger;
  /** How an agent is reached (default: a RemoteAgent over its socket and lane, or its TCP address with `security`). */
  connectAgent?: (info: MemberInfo) => AgentConnection;
  /** The token and TLS the default connectAgent uses for agents on TCP. */
  security?: ClientSecurity;
  heartbeatMs?: number;
  /** How long a join waits for the agent to describe itself (default DEFAULTS.clusterDescribeWaitMs). */
  describeWaitMs?: number;
  /** Injected for tests; default Math.random / Date.now. */
  random?: () => number;
  now?: () => number;
}

/** What the router knows of one agent. @internal */
export interface Node {
  info: MemberInfo;
  remote: AgentConnection;
  detector: PhiAccrualDetector;
  breaker: CircuitBreaker;
  /** The router's own calls in flight to it. */
  inFlight: number;
  load: AgentLoad | undefined;
  tools: Set<string>;
  toolList: ToolInfo[];
  /** Pools that pin sessions (strict-queue, strict-fail-fast): the owner must not change silently. */
  strictPools: Set<string>;
  defaultPool: string | undefined;
  stopBeats: (() => void) | undefined;
  stopEvents: (() => void) | undefined;
  /** Its heartbeat stream is open and has delivered a beat since. */
  connected: boolean;
  /** Its process exited (membership said so): down until it rejoins. */
  exited: boolean;
  cordoned: boolean;
  draining: boolean;
  /** Last state reported in a cluster.agent event. */
  reported: AgentState | undefined;
  /** Its labels, `agent=<id>` included. */
  labels: Record<string, string>;
  /** Attempts in flight to it (given up when the agent is found down). */
  attempts: Set<Attempt>;
  /** What placement sees of it: one object, refreshed for every call (see `view`). */
  view: { -readonly [K in keyof AgentView]: AgentView[K] };
}

const NULL_VALUE: EncodedValue = { json: Buffer.from('null'), blobs: [] };

/** The part of a membership's status that stats carry (no counters or revisions). */
function membershipReport(s: MembershipStatus): NonNullable<AgentStats['membership']> {
  return { kind: s.kind, state: s.state, ...(s.endpoints ? { endpoints: s.endpoints } : {}), ...(s.since !== undefined ? { since: s.since } : {}), ...(s.lastError !== undefined ? { lastError: s.lastError } : {}) };
}
const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});
/** A budget that never says no: for retries the real one exempts (see `retry`). */
const UNTHROTTLED = new RetryBudget(1000, 1000);
/** How long `stats` waits for each agent's own stats, ms. */
const AGENT_STATS_TIMEOUT_MS = 1_000;

export class Router implements AgentApi {
  readonly id: string;
  readonly runId = randomBytes(8).toString('hex');
  readonly startedAt = Date.now();
  private readonly nodes = new Map<string, Node>();
  private readonly budget = new RetryBudget();
  private readonly latency = new LatencyWindow(DEFAULTS.latencyWindow);
  private readonly sessionOwners = new SessionTable<string>(DEFAULTS.sessionTtlMs, DEFAULTS.maxSessions, () => false);
  private readonly listeners = new Map<(e: AgentEvent) => void, boolean>();
  /** Watchers that asked for `call.finished` (one event per call: counted, not searched for, per call). */
  private callWatchers = 0;
  /** Agents' events are forwarded (since the first watcher). */
  private forwarding = false;
  /** The nodes' view objects, in one array (rebuilt when a node joins or leaves). */
  private views: AgentView[] | undefined;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly heartbeatMs: number;
  private completed = 0;
  private failed = 0;
  private running = 0;
  private retries = 0;
  private stopping: Promise<void> | undefined;
  private draining = false;
  private tick: NodeJS.Timeout | undefined;

  /** The router's clock (injected in tests). @internal */
  readonly clock: () => number;

  constructor(private readonly opts: RouterOptions) {
    this.id = opts.id;
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.clock = this.now;
    this.heartbeatMs = opts.heartbeatMs ?? DEFAULTS.clusterHeartbeatMs;
  }

  /** Starts membership (its agents) and resolves once every initial agent is ready and joined. */
  async start(): Promise<void> {
    const joined: Array<Promise<void>> = [];
    await this.opts.membership.start({
      up: (m) => void joined.push(this.join(m)),
      down: (m, why) => this.leave(m, why),
      gone: (m) => {
        const node = this.nodes.get(m.id);
        if (!node) return;
        this.forget(node);
        this.nodes.delete(m.id);
        this.views = undefined;
        this.emit({ type: 'cluster.agent', agent: m.id, state: 'down', reason: 'left the cluster' });
      },
    });
    await Promise.all(joined);
    // The detector turns silence into suspect, then down: look at every node a few times per beat.
    this.tick = setInterval(() => this.report(), Math.max(20, Math.floor(this.heartbeatMs / 4)));
    this.tick.unref();
  }

  // ── membership ─────────────────────────────────────────────────────────

  private async join(info: MemberInfo): Promise<void> {
    const old = this.nodes.get(info.id);
    if (old) this.forget(old);
    const remote = this.opts.connectAgent
      ? this.opts.connectAgent(info)
      : new RemoteAgent({
          address: info.address,
          ...(info.lane ? { lane: info.lane } : {}),
          id: info.id,
          noAgent: () => new SnakepitError('AGENT_UNAVAILABLE', `agent ${info.id} is not reachable at ${info.address}`, { agent: info.id }),
          security: this.opts.security,
        });
    const node: Node = {
      info,
      remote,
      detector: new PhiAccrualDetector({ intervalMs: this.heartbeatMs }, this.now()),
      breaker: new CircuitBreaker(),
      inFlight: 0,
      load: undefined,
      tools: new Set(),
      toolList: [],
      strictPools: new Set(),
      defaultPool: undefined,
      stopBeats: undefined,
      stopEvents: undefined,
      connected: false,
      exited: false,
      cordoned: old?.cordoned ?? false,
      draining: false,
      reported: undefined,
      labels: { ...info.labels, agent: info.id },
      attempts: new Set(),
      view: { id: info.id, state: 'starting', breaker: 'closed', tools: new Set(), labels: {}, inFlight: 0, queueDepth: 0, capacity: 0 },
    };
    this.nodes.set(info.id, node);
    this.views = undefined;
    // A local agent said what it serves when it became ready; any other is asked. An agent that
    // has not described itself serves no tool here, so it gets no calls; one that is slow to
    // answer does not hold the join (nor a router's start): it is described when it answers.
    const didNotDescribe = (err: unknown): void => this.opts.logger.log('warn', 'router', `agent ${info.id} joined but did not describe itself: ${(err as Error).message}`);
    if (Array.isArray(info.tools) && Array.isArray(info.pools)) this.describe(node, info.tools, info.pools);
    else {
      const waitMs = this.opts.describeWaitMs ?? DEFAULTS.clusterDescribeWaitMs;
      let timer: NodeJS.Timeout | undefined;
      const learning = this.learn(node).then(
        () => true,
        (err: unknown) => {
          didNotDescribe(err);
          return true;
        },
      );
      const late = await Promise.race([learning, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), waitMs)))]);
      clearTimeout(timer);
      if (!late) {
        this.opts.logger.log('warn', 'router', `agent ${info.id} at ${info.address} did not describe itself within ${waitMs} ms (clusterDescribeWaitMs); it gets calls once it answers`);
        void learning.then(() => {
          if (node.tools.size > 0) this.opts.logger.log('info', 'router', `agent ${info.id} described itself late: it takes calls now`);
        });
      }
    }
    // Joined once its first heartbeat (sent at once) says it is alive: until then placement
    // leaves it out, and a cluster reported ready with agents still "starting" would place
    // sessions on the first agent to answer, then move them.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, DEFAULTS.clusterFirstBeatWaitMs);
      this.beat(node, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (this.forwarding) this.forwardEvents(node);
    this.opts.logger.log('info', 'router', `agent ${info.id} joined (${info.pid !== undefined ? `pid ${info.pid}, ` : ''}${info.address})${node.tools.size === 0 ? '; not described yet: no calls until it answers' : ''}`);
  }

  /** Tools and pool affinities of an agent (at join, and after a reload). */
  private async learn(node: Node): Promise<void> {
    const [tools, stats] = await Promise.all([node.remote.tools(), node.remote.stats()]);
    // Whoever registers an address decides where the router dials: the router's own address (or
    // another router's) would make it forward calls to itself, one hop after another, and another
    // agent's address would count that agent twice. Such a node stays undescribed: no calls.
    const who = stats.agent;
    if (who?.kind === 'router') throw new SnakepitError('CONFIG_INVALID', `${node.info.address} answers as router ${who.id}, not as an agent: not routed to (a registry entry naming a router would make calls loop)`);
    if (who?.id !== undefined && who.id !== node.info.id) throw new SnakepitError('CONFIG_INVALID', `${node.info.address} answers as agent ${who.id}, not ${node.info.id}: not routed to (two entries name the same agent, or the entry is forged)`);
    if (this.nodes.get(node.info.id) !== node) return; // left or replaced meanwhile
    this.describe(node, tools, stats.pools);
  }

  private describe(node: Node, tools: ToolInfo[], pools: ReadonlyArray<{ name: string; affinity: string }>): void {
    node.toolList = tools;
    node.tools = new Set(tools.map((t) => t.name));
    node.strictPools = new Set(pools.filter((p) => p.affinity !== 'hint').map((p) => p.name));
    node.defaultPool = pools[0]?.name;
  }

  /** Opens (and keeps reopening) the agent's heartbeat stream; `first` once its first beat came or the stream ended. */
  private beat(node: Node, first?: () => void): void {
    if (node.exited || this.nodes.get(node.info.id) !== node) return first?.();
    node.stopBeats = node.remote.heartbeats(
      this.heartbeatMs,
      (b) => {
        first?.();
        first = undefined;
        node.connected = true;
        node.detector.heartbeat(this.now());
        node.load = { inFlight: b.inFlight, queueDepth: b.queueDepth, capacity: b.capacity, sessions: b.sessions, serving: b.serving };
      },
      () => {
        // The stream broke: stop routing there at once; try again while the agent is a member.
        first?.();
        first = undefined;
        node.connected = false;
        node.stopBeats = undefined;
        this.report('its heartbeat stream broke');
        if (!this.stopping && !node.exited) setTimeout(() => this.beat(node), this.heartbeatMs).unref();
      },
    );
  }

  /**
   * The agent's events, for the router's watchers (worker starts, crashes, recycles…). Opened
   * for every agent once the router has a watcher (nobody to tell before: a watcher starts from
   * a snapshot), so starting a cluster costs no watch stream per agent.
   */
  private forwardEvents(node: Node): void {
    node.stopEvents = node.remote.watch(
      { intervalMs: DEFAULTS.watchIntervalMaxMs },
      (u) => {
        if (u.type === 'event') this.emit(u.event);
      },
      () => {
        node.stopEvents = undefined;
        if (!this.stopping && !node.exited && this.nodes.get(node.info.id) === node) setTimeout(() => this.forwardEvents(node), 1_000).unref();
      },
    );
  }

  private leave(info: MemberInfo, why: string): void {
    const node = this.nodes.get(info.id);
    if (!node) return;
    node.exited = true;
    node.connected = false;
    this.opts.logger.log('warn', 'router', `agent ${info.id} is down: ${why}`);
    // Already reported down (its connection broke first): say now why it is.
    if (node.reported === 'down') this.emit({ type: 'cluster.agent', agent: info.id, state: 'down', reason: why });
    this.report(why);
  }

  private forget(node: Node): void {
    node.stopBeats?.();
    node.stopEvents?.();
    node.remote.close();
  }

  // ── state ──────────────────────────────────────────────────────────────

  private stateOf(node: Node, now: number): AgentState {
    if (node.exited) return 'down';
    if (node.draining || (node.load && !node.load.serving)) return 'draining';
    if (node.cordoned) return 'cordoned';
    if (!node.connected) return node.detector.lastHeartbeatAt === null ? 'starting' : 'down';
    const live = node.detector.state(now);
    return live === 'starting' ? 'starting' : live;
  }

  /** What placement reads: each node's view object refreshed in place, in one array kept until membership changes. */
  private view(now: number): AgentView[] {
    const views = (this.views ??= [...this.nodes.values()].map((n) => n.view));
    for (const n of this.nodes.values()) {
      const v = n.view;
      v.state = this.stateOf(n, now);
      v.breaker = n.breaker.view(now);
      v.tools = n.tools;
      v.labels = n.labels;
      v.inFlight = n.inFlight;
      v.queueDepth = n.load?.queueDepth ?? 0;
      v.capacity = n.load?.capacity ?? 0;
    }
    return views;
  }

  /** Emits `cluster.agent` for every node whose state changed since it was last reported. */
  private report(reason?: string): void {
    const now = this.now();
    for (const n of this.nodes.values()) {
      const state = this.stateOf(n, now);
      if (state === n.reported) continue;
      const was = n.reported;
      n.reported = state;
      // Found down while alive in process terms (silent, its stream still open): its calls in
      // flight will not be answered; give them up (an idempotent one goes elsewhere).
      if (state === 'down' && !n.exited) this.abandon(n, reason ?? 'it stopped sending heartbeats');
      if (was !== undefined || state !== 'starting') this.emit({ type: 'cluster.agent', agent: n.info.id, state, reason: reason ?? null });
    }
  }

  private abandon(node: Node, why: string): void {
    const e: ErrorInfo = { code: 'AGENT_UNAVAILABLE', message: `agent ${node.info.id} is down (${why}); the call may have run there`, agent: node.info.id };
    for (const attempt of [...node.attempts]) attempt.giveUp(e);
  }

  // ── calls ──────────────────────────────────────────────────────────────

  execute(req: AgentRequest, done: (error: ErrorInfo | null, value?: EncodedValue) => void): CallControl {
    return this.route(new Routed(this, req, false, null, done));
  }

  stream(req: AgentRequest, sink: CallSink): CallControl {
    return this.route(new Routed(this, req, true, sink, null));
  }

  private route(call: Routed): Routed {
    this.running++;
    this.attempt(call);
    return call;
  }

  /**
   * Places a call and sends it to the best candidate (the first attempt), or to the best one not
   * tried yet (a retry). A call is one Routed and each attempt one Attempt (no closures per call:
   * this is the router's hot path).
   * @internal
   */
  attempt(call: Routed): void {
    if (call.settled) return;
    if (this.draining) return call.fail({ code: 'DRAINING', message: `the cluster is draining and takes no new calls` });
    const now = this.now();
    const view = this.view(now);
    let target: AgentView | null;
    let placement: Placement | undefined;
    if (call.tried === null) target = pick(call, view, this.random);
    else {
      placement = place(call, view, this.random);
      const tried = call.tried;
      target = placement.candidates.find((c) => !tried.includes(c.id)) ?? placement.candidates[0] ?? null;
    }
    // No candidate: ranked (once) only now, for the error that says why each agent was left out.
    if (!target) return call.fail(noCandidateError(call, view, placement ?? place(call, view, this.random)));
    const node = this.nodes.get(target.id)!;
    const req = call.req;
    // Strict affinity holds cluster-wide: a session whose owner changed fails once.
    if (call.session !== null && call.attempts === 0 && node.strictPools.has(req.pool || node.defaultPool || '')) {
      const before = this.sessionOwners.workerOf(call.session, now) ?? null;
      if (ownerChanged(call, before, view)) {
        this.sessionOwners.bind(call.session, sessionOwner(call, view)!, now);
        return call.fail({ code: 'SESSION_WORKER_LOST', message: `the agent of session '${call.session}' changed (${before} → ${target.id}); its session state stayed behind; the next call starts the session afresh` });
      }
    }
    if (call.session !== null) this.sessionOwners.bind(call.session, target.id, now);
    const ticket = node.breaker.admit(now);
    call.attempts++;
    if (!ticket) return this.retry(call, node, { code: 'AGENT_UNAVAILABLE', message: `agent ${node.info.id}'s circuit breaker is open`, agent: node.info.id }, false);
    const left = call.deadline === null ? undefined : Math.max(1, call.deadline - now);
    // The first attempt goes out as it came in (its bytes, unchanged: placement took no time
    // worth taking off its deadline); a retry carries what is left of the deadline, so it is
    // encoded afresh.
    const forward: AgentRequest = call.attempts === 1 || left === undefined ? req : { ...req, timeoutMs: left, wire: undefined };
    node.inFlight++;
    const attempt = new Attempt(this, call, node, ticket);
    node.attempts.add(attempt);
    call.current = attempt;
    attempt.control = node.remote.call(forward, call.streaming, attempt);
  }

  /** An attempt failed: the next candidate, after a backoff, when retry.ts allows it; else the call fails. @internal */
  retry(call: Routed, node: Node, e: ErrorInfo, dispatched: boolean): void {
    (call.tried ??= []).push(node.info.id);
    // Sent to an agent: did it get there? A call the Exchange client never wrote to a connected
    // stream did not (it marks such failures `unsent`).
    const reached = dispatched && !e.unsent;
    // The budget stops retry storms against agents that are up but failing. Calls that never
    // left (transparent retries, as gRPC's throttling exempts them) and calls of an agent known
    // down (it takes no more calls, so their retries are a one-off) are not throttled.
    const exempt = !reached || this.stateOf(node, this.now()) === 'down';
    if (!dispatched && !exempt) this.budget.record(e.code);
    const decision =
      call.chunks > 0
        ? ({ retry: false, reason: 'final' } as const)
        : retryDecision({ code: e.code, dispatched: reached }, { attempts: call.attempts, idempotent: call.req.idempotent ?? false, timeLeftMs: call.deadline === null ? null : call.deadline - this.now() }, exempt ? UNTHROTTLED : this.budget, this.random);
    if (!decision.retry) return call.fail(e.agent ? e : { ...e, agent: node.info.id });
    this.retries++;
    call.retryTimer = setTimeout(() => {
      call.retryTimer = undefined;
      this.attempt(call);
    }, decision.delayMs);
  }

  /** A call is over (answered, failed or cancelled): counters, latency, `call.finished`. @internal */
  finished(call: Routed, error: ErrorInfo | null): void {
    this.running--;
    const ms = this.now() - call.started;
    this.latency.record(ms);
    if (error) this.failed++;
    else this.completed++;
    if (this.callWatchers > 0) this.emit({ type: 'call.finished', pool: call.req.pool ?? '', tool: call.req.tool, ms, code: error?.code ?? null });
  }

  /** An attempt of `node` is over (`code` null: it succeeded). @internal */
  attemptOver(attempt: Attempt, code: string | null): void {
    const node = attempt.node;
    node.inFlight--;
    node.attempts.delete(attempt);
    // The connection to the agent broke (it died, or closed on us): stop routing there at once,
    // until its next heartbeat says otherwise.
    if (code === 'AGENT_UNAVAILABLE') this.disconnected(node, 'its connection broke');
    this.outcome(node, attempt.ticket, code);
  }

  /** The caller cancelled the call during `attempt`: the agent is told; it counts neither way for the breaker. @internal */
  released(attempt: Attempt): void {
    attempt.node.inFlight--;
    attempt.node.attempts.delete(attempt);
    attempt.node.breaker.record(attempt.ticket, 'CANCELLED', this.now());
  }

  /** Records an attempt's outcome in the agent's breaker and (unless the agent is down) the retry budget. */
  private outcome(node: Node, ticket: BreakerTicket, code: string | null): void {
    const now = this.now();
    node.breaker.record(ticket, code, now);
    if (code === null || this.stateOf(node, now) !== 'down') this.budget.record(code);
  }

  /** Layer (a) of failure detection: a broken connection stops routing to the agent at once. */
  private disconnected(node: Node, why: string): void {
    if (!node.connected) return;
    node.connected = false;
    this.report(why);
  }

  // ── the rest of the Agent API ────────────────────────────────────────────

  async tools(pool?: string): Promise<ToolInfo[]> {
    const byKey = new Map<string, ToolInfo & { agents: string[] }>();
    for (const n of this.nodes.values()) {
      if (n.exited) continue;
      for (const t of n.toolList) {
        if (pool && t.pool !== pool) continue;
        const key = `${t.pool}\0${t.name}`;
        const seen = byKey.get(key);
        if (seen) seen.agents.push(n.info.id);
        else byKey.set(key, { ...t, agents: [n.info.id] });
      }
    }
    if (pool && byKey.size === 0) throw new SnakepitError('TOOL_NOT_FOUND', `no agent of the cluster has a pool named '${pool}'`);
    for (const t of byKey.values()) t.agents.sort();
    return [...byKey.values()];
  }

  async stats(): Promise<AgentStats> {
    const now = this.now();
    const nodes = [...this.nodes.values()];
    // A down agent is not asked (a silent one would hold every snapshot up for the timeout).
    const own = await Promise.all(nodes.map((n) => (this.stateOf(n, now) === 'down' ? Promise.resolve(null) : withTimeout(n.remote.stats(), AGENT_STATS_TIMEOUT_MS).catch(() => null))));
    const agents: ClusterAgentStats[] = nodes.map((n, i) => ({
      id: n.info.id,
      address: n.info.address,
      pid: own[i]?.agent?.pid ?? n.info.pid ?? 0,
      state: this.stateOf(n, now),
      labels: n.labels,
      workerPids: own[i]?.workers?.map((w) => w.pid) ?? n.info.workerPids,
      inFlight: n.inFlight,
      queueDepth: n.load?.queueDepth ?? 0,
      capacity: n.load?.capacity ?? 0,
      sessions: n.load?.sessions ?? 0,
      phi: round(n.detector.phi(now)),
      breaker: n.breaker.state(now),
      version: own[i]?.agent?.version ?? n.info.version ?? '',
      restarts: n.info.restarts,
      stats: own[i] ?? null,
    }));
    const [p50, p99] = this.latency.percentiles(50, 99);
    const pools = new Map<string, AgentStats['pools'][number]>();
    for (const s of own) {
      for (const p of Array.isArray(s?.pools) ? s.pools : []) {
        const seen = pools.get(p.name);
        if (!seen) pools.set(p.name, { ...p });
        else {
          seen.size += p.size;
          seen.recycled += p.recycled;
          seen.queueDepth += p.queueDepth;
          seen.degraded ??= p.degraded;
        }
      }
    }
    return {
      agent: { id: this.id, pid: process.pid, version: VERSION, runId: this.runId, uptimeMs: now - this.startedAt, kind: 'router' },
      workers: own.flatMap((s, i) => (Array.isArray(s?.workers) ? s.workers : []).map((w) => ({ ...w, agent: nodes[i]!.info.id }))),
      pools: [...pools.values()],
      queue: { depth: own.reduce((d, s) => d + (s?.queue?.depth ?? 0), 0) },
      calls: { completed: this.completed, failed: this.failed, inFlight: this.running, retries: this.retries },
      latencyMs: { p50: p50 ?? 0, p99: p99 ?? 0 },
      agents,
      ...(this.opts.membership.status ? { membership: membershipReport(this.opts.membership.status()) } : {}),
    };
  }

  async health(): Promise<AgentHealth> {
    if (this.stopping) return { serving: false, reason: 'the router is stopping' };
    if (this.draining) return { serving: false, reason: 'the cluster is draining' };
    const now = this.now();
    const up = [...this.nodes.values()].filter((n) => this.stateOf(n, now) === 'alive');
    return up.length > 0 ? { serving: true, reason: null } : { serving: false, reason: 'no agent of the cluster is alive' };
  }

  async load(): Promise<AgentLoad> {
    const out: AgentLoad = { inFlight: this.running, queueDepth: 0, capacity: 0, sessions: this.sessionOwners.size, serving: (await this.health()).serving };
    for (const n of this.nodes.values()) {
      if (n.exited || !n.load) continue;
      out.queueDepth += n.load.queueDepth;
      out.capacity += n.load.capacity;
    }
    return out;
  }

  /** Drains every agent (they stop once drained), then the cluster stops. */
  async drain(deadlineMs?: number): Promise<boolean> {
    this.draining = true;
    this.emit({ type: 'agent.draining', deadlineMs: deadlineMs ?? null });
    const results = await Promise.all([...this.nodes.values()].filter((n) => !n.exited).map((n) => n.remote.drain(deadlineMs).catch(() => false)));
    return results.every(Boolean);
  }

  /** Reloads one agent at a time (capacity stays); resolves with the workers replaced in all. */
  async reload(pool?: string): Promise<ReloadResult> {
    const out: ReloadResult = { replaced: 0, changes: [] };
    for (const node of this.nodes.values()) {
      if (node.exited) continue;
      const r = await node.remote.reload(pool);
      out.replaced += r.replaced;
      out.changes.push(...r.changes.map((c) => `agent ${node.info.id}: ${c}`));
      await this.learn(node).catch(() => undefined);
    }
    return out;
  }

  /** Resizes the pool on every agent, one agent at a time: `size` is each agent's. */
  async scale(size: number, pool?: string): Promise<ScaleResult> {
    let first: ScaleResult | undefined;
    for (const node of this.nodes.values()) {
      if (node.exited) continue;
      const r = await node.remote.scale(size, pool);
      first ??= r;
    }
    if (!first) throw new SnakepitError('AGENT_UNAVAILABLE', 'no agent of the cluster is up to scale');
    return first;
  }

  /** `agent/worker` (e.g. `agent-2/default-0`), or a worker id that only one agent has. */
  async restartWorker(worker: string): Promise<void> {
    const slash = worker.indexOf('/');
    if (slash > 0) {
      const node = this.nodes.get(worker.slice(0, slash));
      if (!node) throw new SnakepitError('USAGE', `no agent '${worker.slice(0, slash)}' in the cluster (agents: ${[...this.nodes.keys()].join(', ')})`);
      return node.remote.restartWorker(worker.slice(slash + 1));
    }
    throw new SnakepitError('USAGE', `worker ids repeat across agents: name the agent too, e.g. '${[...this.nodes.keys()][0] ?? 'agent-1'}/${worker}'`);
  }

  /** Stops every agent (they finish their calls), then the router itself. */
  shutdown(): Promise<void> {
    this.stopping ??= (async () => {
      this.emit({ type: 'agent.stopping' });
      clearInterval(this.tick);
      await this.opts.membership.stop();
      for (const n of this.nodes.values()) this.forget(n);
      this.emit({ type: 'agent.stopped' });
    })();
    return this.stopping;
  }

  /** The router's own operations (the ClusterControl RPC): cordon, uncordon, drain one, scale. */
  async cluster(req: ClusterRequest): Promise<ClusterOutcome> {
    const agents = (): string[] => [...this.nodes.keys()].sort();
    const stateNow = (id: string): string => this.stateOf(this.node(id), this.now());
    switch (req.op) {
      case 'cordon':
      case 'uncordon':
        this.cordon(req.agent, req.op === 'cordon');
        if (req.op === 'uncordon') this.opts.membership.release(req.agent);
        return { agent: req.agent, state: stateNow(req.agent), agents: agents() };
      case 'drain': {
        // Cordoned first: no new call or session goes there; its sessions re-home by HRW order.
        this.cordon(req.agent, true);
        this.opts.membership.hold(req.agent);
        const drained = await this.node(req.agent).remote.drain(req.deadlineMs);
        return { agent: req.agent, state: stateNow(req.agent), drained, agents: agents() };
      }
      case 'scale':
        await this.opts.membership.scale(req.count);
        return { agents: agents() };
    }
  }

  private node(id: string): Node {
    const node = this.nodes.get(id);
    if (!node) throw new SnakepitError('USAGE', `no agent '${id}' in the cluster (agents: ${[...this.nodes.keys()].join(', ')})`);
    return node;
  }

  /** Cordons (or uncordons) an agent: no new calls or sessions go to it. */
  cordon(id: string, on: boolean): void {
    const node = this.node(id);
    node.cordoned = on;
    this.report(on ? 'cordoned' : 'uncordoned');
  }

  // ── events ─────────────────────────────────────────────────────────────

  watch(options: WatchOptions, push: (update: WatchUpdate) => void, end: (err?: Error) => void): () => void {
    const every = Math.min(DEFAULTS.watchIntervalMaxMs, Math.max(DEFAULTS.watchIntervalMinMs, options.intervalMs || DEFAULTS.watchIntervalMs));
    let stopped = false;
    let snapshotting = false;
    const snapshot = (): void => {
      if (snapshotting || stopped) return;
      snapshotting = true;
      void this.stats().then(
        (stats) => {
          snapshotting = false;
          if (!stopped) push({ type: 'stats', stats });
        },
        () => (snapshotting = false),
      );
    };
    const timer = setInterval(snapshot, every);
    const listener = (event: AgentEvent): void => {
      push({ type: 'event', event });
      if (event.type === 'agent.stopped' && event.agent === this.id) {
        stop();
        end();
      }
    };
    this.listeners.set(listener, options.calls ?? false);
    if (options.calls) this.callWatchers++;
    if (!this.forwarding) {
      this.forwarding = true;
      for (const node of this.nodes.values()) if (!node.exited && !node.stopEvents) this.forwardEvents(node);
    }
    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      this.listeners.delete(listener);
      if (options.calls) this.callWatchers--;
    };
    snapshot();
    return stop;
  }

  private emit(e: AgentEvent): void {
    const event = e.agent ? e : ({ ...e, agent: this.id } as AgentEvent);
    for (const [l, calls] of this.listeners) if (calls || event.type !== 'call.finished') l(event);
  }
}

function round(n: number): number {
  return Number.isFinite(n) ? Math.round(n * 100) / 100 : 1e9;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), ms)))]).finally(() => clearTimeout(timer));
}

/** One call through the router, from its arrival until it is answered: its attempts and deadline. @internal */
export class Routed implements PlacementCall, CallControl {
  readonly tool: string;
  readonly session: string | null;
  readonly require: Readonly<Record<string, string>>;
  readonly started: number;
  readonly deadline: number | null;
  attempts = 0;
  settled = false;
  /** Chunks delivered: a stream that has delivered one is never retried. */
  chunks = 0;
  /** Agents tried, once a retry needs them (null until then). */
  tried: string[] | null = null;
  current: Attempt | undefined = undefined;
  retryTimer: NodeJS.Timeout | undefined = undefined;

  constructor(
    private readonly router: Router,
    readonly req: AgentRequest,
    readonly streaming: boolean,
    /** A stream's sink, or null for execute (which answers `done`). */
    private readonly sink: CallSink | null,
    private readonly done: ((error: ErrorInfo | null, value?: EncodedValue) => void) | null,
  ) {
    this.tool = req.tool;
    this.session = req.session || null;
    this.require = req.require ?? NO_LABELS;
    this.started = router.clock();
    this.deadline = req.timeoutMs ? this.started + req.timeoutMs : null;
  }

  cancel(): void {
    if (this.settled) return;
    clearTimeout(this.retryTimer);
    const attempt = this.current;
    if (attempt && !attempt.answered) {
      attempt.answered = true;
      attempt.control?.cancel();
      this.router.released(attempt);
    }
    this.fail({ code: 'CANCELLED', message: `call to '${this.req.tool}' was cancelled` });
  }

  chunk(value: EncodedValue): void {
    this.chunks++;
    this.sink?.chunk(value);
  }

  result(value: EncodedValue): void {
    if (!this.settle(null)) return;
    if (this.sink) this.sink.result(value);
    else this.done!(null, value);
  }

  end(): void {
    if (!this.settle(null)) return;
    if (this.sink) this.sink.end();
    else this.done!(null, NULL_VALUE);
  }

  fail(e: ErrorInfo): void {
    if (!this.settle(e)) return;
    if (this.sink) this.sink.error(e);
    else this.done!(e);
  }

  private settle(error: ErrorInfo | null): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.router.finished(this, error);
    return true;
  }
}

/** One attempt of a call at one agent: the sink its answer arrives at. @internal */
export class Attempt implements CallSink {
  control: CallControl | undefined = undefined;
  answered = false;

  constructor(
    private readonly router: Router,
    private readonly call: Routed,
    readonly node: Node,
    readonly ticket: BreakerTicket,
  ) {}

  chunk(value: EncodedValue): void {
    if (this.call.settled || this.answered) return;
    this.call.chunk(value);
  }

  result(value: EncodedValue): void {
    if (!this.over(null)) return;
    this.call.result(value);
  }

  end(): void {
    if (!this.over(null)) return;
    this.call.end();
  }

  error(e: ErrorInfo): void {
    if (!this.over(e.code)) return;
    if (!this.call.settled) this.router.retry(this.call, this.node, e, true);
  }

  /** The agent was found down with this attempt in flight: it will not answer. */
  giveUp(e: ErrorInfo): void {
    this.control?.cancel();
    this.error(e);
  }

  private over(code: string | null): boolean {
    if (this.answered) return false;
    this.answered = true;
    this.router.attemptOver(this, code);
    return true;
  }
}
