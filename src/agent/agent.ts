// The node-local authority over workers: owns the pools, turns a request into a pool call, and
// answers tools/stats. It is the in-process implementation of the Agent API seam (AgentApi):
// the gRPC server, the local lane and the embedded library API all drive it through that
// interface; arguments and results pass through as encoded bytes (never re-parsed here).
import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { AgentApi, AgentHealth, AgentLoad, EventOptions, WatchOptions, WatchUpdate } from '../api/agent-api.js';
import { DEFAULTS } from '../defaults.js';
import { SnakepitError, nearestNames, type ErrorInfo } from '../errors.js';
import { VERSION } from '../paths.js';
import { decodeValue, encodeValue, type EncodedValue } from '../protocol/values.js';
import type { CallSink, ToolDescription } from '../worker/channel.js';
import type { AgentEvent, EventSink } from './events.js';
import type { AgentLogger } from './log.js';
import { Pool, type CallControl, type PoolOptions } from './pool.js';
import { checkRequest } from './request.js';
import { count } from '../text.js';

export interface AgentRequest {
  tool: string;
  args: EncodedValue;
  session: string | null;
  /** 0 or undefined = no timeout. */
  timeoutMs?: number | undefined;
  idempotent?: boolean | undefined;
  pool?: string | undefined;
  /** Labels an agent must carry to take the call (a router filters on them; an agent ignores them). */
  require?: Readonly<Record<string, string>> | undefined;
  /**
   * The request's encoded bytes as they arrived, when they did (the Exchange stream): a router
   * forwards them as they are. Whoever changes a field of the request drops them.
   */
  wire?: Buffer | undefined;
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
  /** A router's agents (src/cluster/router.ts ClusterAgentStats). */
  agents?: import('../cluster/router.js').ClusterAgentStats[];
}

const NULL_VALUE: EncodedValue = { json: Buffer.from('null'), blobs: [] };

export interface ToolInfo extends ToolDescription {
  pool: string;
  /** Through a router: the agents that serve it. */
  agents?: string[];
}

/** A new agent id: the host's name and a random suffix (a daemon keeps its id in its home). */
export function newAgentId(): string {
  const host = hostname().replace(/[^A-Za-z0-9-]/g, '-').slice(0, 40) || 'host';
  return `${host}-${randomBytes(3).toString('hex')}`;
}

export class Agent implements AgentApi {
  readonly id: string;
  readonly runId: string;
  readonly startedAt = Date.now();
  private readonly pools = new Map<string, Pool>();
  private readonly defaultPool: string;
  private stopped: Promise<void> | undefined;
  private draining = false;

  /** Listeners, each with whether it wants `call.finished` events. */
  private readonly listeners = new Map<EventSink, boolean>();
  private callListeners = 0;

  constructor(
    pools: PoolOptions[],
    readonly logger: AgentLogger,
    runId: string = randomUUID(),
    id: string = newAgentId(),
  ) {
    if (pools.length === 0) throw new SnakepitError('CONFIG_INVALID', 'an agent needs at least one pool');
    this.runId = runId;
    this.id = id;
    // Per-call events are built only while someone wants them.
    for (const p of pools) this.pools.set(p.name, new Pool({ ...p, spec: { ...p.spec, runId } }, logger, (e) => this.emitEvent(e), () => this.callListeners > 0));
    this.defaultPool = pools[0]!.name;
  }

  /** Subscribes to the event catalog (events.ts); returns the unsubscribe function. */
  onEvent(listener: EventSink, options: EventOptions = {}): () => void {
    const calls = options.calls ?? false;
    if (this.listeners.has(listener)) return () => {};
    this.listeners.set(listener, calls);
    if (calls) this.callListeners++;
    return () => {
      if (!this.listeners.delete(listener)) return;
      if (calls) this.callListeners--;
    };
  }

  /** Stats at once and every interval (clamped to the watch bounds), and events as they come. */
  watch(options: WatchOptions, push: (update: WatchUpdate) => void, end: (err?: Error) => void): () => void {
    const every = Math.min(DEFAULTS.watchIntervalMaxMs, Math.max(DEFAULTS.watchIntervalMinMs, options.intervalMs || DEFAULTS.watchIntervalMs));
    const snapshot = (): void => push({ type: 'stats', stats: this.snapshot() });
    const timer = setInterval(snapshot, every);
    let stopped = false;
    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      off();
    };
    const off = this.onEvent(
      (event) => {
        push({ type: 'event', event });
        if (event.type === 'agent.stopped') {
          stop();
          end();
        }
      },
      { calls: options.calls ?? false },
    );
    snapshot();
    return stop;
  }

  private emitEvent(e: AgentEvent): void {
    const event = { ...e, agent: this.id } as AgentEvent;
    for (const [l, calls] of this.listeners) if (calls || event.type !== 'call.finished') l(event);
  }

  async start(): Promise<void> {
    const started = Date.now();
    try {
      await Promise.all([...this.pools.values()].map((p) => p.start()));
    } catch (err) {
      await this.stop();
      throw err;
    }
    const workers = [...this.pools.values()].reduce((n, p) => n + p.options.size, 0);
    this.logger.log('info', 'agent', `${count(workers, 'worker')} ready in ${Date.now() - started} ms (run ${this.runId})`);
  }

  /** Starts a call; the sink receives chunks and exactly one result, end or error. */
  call(req: AgentRequest, sink: CallSink): CallControl {
    const invalid = checkRequest(req);
    if (invalid) return failNow(sink, this.stamp(invalid));
    const pool = this.pools.get(req.pool || this.defaultPool);
    if (!pool) return failNow(sink, this.stamp({ code: 'TOOL_NOT_FOUND', message: `no pool named '${req.pool}' (pools: ${[...this.pools.keys()].join(', ')})` }));
    if (!pool.tools.has(req.tool)) return failNow(sink, this.stamp(this.toolNotFound(req.tool, pool)));
    const error = sink.error;
    return pool.submit({
      tool: req.tool,
      session: req.session || null,
      args: req.args,
      deadline: req.timeoutMs ? Date.now() + req.timeoutMs : null,
      idempotent: req.idempotent ?? false,
      // An error says which agent it came from (a router's client sees many).
      sink: { chunk: sink.chunk, result: sink.result, end: sink.end, error: (e) => error(this.stamp(e)) },
    });
  }

  private stamp(e: ErrorInfo): ErrorInfo {
    return e.agent ? e : { ...e, agent: this.id };
  }

  /** One result per call: a streaming tool's chunks are collected into an array. */
  execute(req: AgentRequest, done: (error: ErrorInfo | null, value?: EncodedValue) => void): CallControl {
    if (!this.isStreaming(req)) {
      return this.call(req, { chunk() {}, result: (v) => done(null, v), end: () => done(null, NULL_VALUE), error: (e) => done(e) });
    }
    const chunks: unknown[] = [];
    return this.call(req, {
      chunk: (v) => chunks.push(decodeValue(v)),
      result: (v) => done(null, v),
      end: () => done(null, encodeValue(chunks)),
      error: (e) => done(e),
    });
  }

  /** A stream per call: a plain tool's result is its only chunk. */
  stream(req: AgentRequest, sink: CallSink): CallControl {
    if (this.isStreaming(req)) return this.call(req, sink);
    return this.call(req, { ...sink, result: (v) => (sink.chunk(v), sink.end()) });
  }

  private isStreaming(req: Pick<AgentRequest, 'tool' | 'pool'>): boolean {
    return this.pools.get(req.pool || this.defaultPool)?.tools.get(req.tool)?.stream ?? false;
  }

  async tools(poolName?: string): Promise<ToolInfo[]> {
    return this.toolList(poolName);
  }

  async stats(): Promise<AgentStats> {
    return this.snapshot();
  }

  async health(): Promise<AgentHealth> {
    return this.healthNow();
  }

  async load(): Promise<AgentLoad> {
    return this.loadNow();
  }

  loadNow(): AgentLoad {
    const out: AgentLoad = { inFlight: 0, queueDepth: 0, capacity: 0, sessions: 0, serving: this.healthNow().serving };
    for (const p of this.pools.values()) {
      const l = p.load();
      out.inFlight += l.inFlight;
      out.queueDepth += l.queueDepth;
      out.capacity += l.capacity;
      out.sessions += l.sessions;
    }
    return out;
  }

  /** Graceful stop (the Agent API's Shutdown): in-flight calls get the pools' grace, workers stop. */
  async shutdown(): Promise<void> {
    await this.stop();
  }

  toolList(poolName?: string): ToolInfo[] {
    const pools = poolName ? [this.pools.get(poolName)].filter((p): p is Pool => !!p) : [...this.pools.values()];
    if (poolName && pools.length === 0) throw new SnakepitError('TOOL_NOT_FOUND', `no pool named '${poolName}'`);
    return pools.flatMap((p) => [...p.tools.values()].map((t) => ({ ...t, pool: p.name })));
  }

  /** The stats document, now (metrics and watchers read it in process). */
  snapshot(): AgentStats {
    const pools = [...this.pools.values()];
    const per = pools.map((p) => p.stats());
    // Percentiles over the union of pools' windows: good enough for one agent, exact for one pool.
    const [p50, p99] = pools.length === 1 ? pools[0]!.latency.percentiles(50, 99) : mergePercentiles(pools);
    return {
      agent: { id: this.id, pid: process.pid, version: VERSION, runId: this.runId, uptimeMs: Date.now() - this.startedAt },
      workers: per.flatMap((s) => s.workers),
      pools: pools.map((p, i) => ({ name: p.name, size: p.options.size, affinity: p.options.affinity, degraded: p.degraded ?? null, tools: p.tools.size, recycled: p.recycled, queueDepth: per[i]!.queueDepth })),
      queue: { depth: per.reduce((n, s) => n + s.queueDepth, 0) },
      calls: {
        completed: pools.reduce((n, p) => n + p.completed, 0),
        failed: pools.reduce((n, p) => n + p.failed, 0),
        inFlight: per.reduce((n, s) => n + s.inFlight, 0),
      },
      latencyMs: { p50: p50 ?? 0, p99: p99 ?? 0 },
    };
  }

  /**
   * Stops taking new calls (`DRAINING`) and resolves when every accepted call (queued or
   * running) has finished, or when `deadlineMs` passes (then false). The caller stops the agent.
   */
  async drain(deadlineMs?: number): Promise<boolean> {
    this.draining = true;
    this.emitEvent({ type: 'agent.draining', deadlineMs: deadlineMs ?? null });
    this.logger.log('info', 'agent', `draining${deadlineMs ? ` (deadline ${deadlineMs} ms)` : ''}`);
    const drained = Promise.all([...this.pools.values()].map((p) => p.drain())).then(() => true);
    if (!deadlineMs) return drained;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), deadlineMs)));
    return Promise.race([drained, late]).finally(() => clearTimeout(timer));
  }

  /** Replaces every worker of one pool (or all) one at a time; resolves with the count. */
  async reload(poolName?: string): Promise<number> {
    const pools = poolName ? [this.pools.get(poolName)] : [...this.pools.values()];
    if (pools.some((p) => !p)) throw new SnakepitError('CONFIG_INVALID', `no pool named '${poolName}' (pools: ${[...this.pools.keys()].join(', ')})`);
    let n = 0;
    for (const p of pools as Pool[]) n += await p.reload();
    this.logger.log('info', 'agent', `reloaded ${count(n, 'worker')}`);
    return n;
  }

  /** Restarts one worker by id (e.g. "default-0"); its replacement is ready before it stops. */
  async restartWorker(id: string): Promise<void> {
    for (const p of this.pools.values()) if (await p.restartWorker(id)) return;
    throw new SnakepitError('USAGE', `no worker with id '${id}' (workers: ${this.snapshot().workers.map((w) => w.id).join(', ')})`);
  }

  /**
   * What a health probe (grpc.health.v1) hears: serving while the agent takes calls; not while it
   * drains or stops, or while a pool is degraded (a router or load balancer should look elsewhere).
   */
  healthNow(): AgentHealth {
    if (this.stopped) return { serving: false, reason: 'the agent is stopping' };
    if (this.draining) return { serving: false, reason: 'the agent is draining' };
    const degraded = [...this.pools.values()].find((p) => p.degraded);
    if (degraded) return { serving: false, reason: `pool '${degraded.name}' is degraded` };
    return { serving: true, reason: null };
  }

  workerPids(): number[] {
    return [...this.pools.values()].flatMap((p) => p.pids());
  }

  /** Graceful stop; safe to call more than once. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.logger.log('info', 'agent', 'stopping');
      this.emitEvent({ type: 'agent.stopping' });
      await Promise.all([...this.pools.values()].map((p) => p.stop()));
      this.emitEvent({ type: 'agent.stopped' });
      this.logger.log('info', 'agent', 'stopped');
    })();
    return this.stopped;
  }

  private toolNotFound(tool: string, pool: Pool): ErrorInfo {
    const names = [...pool.tools.keys()];
    const near = nearestNames(tool, names);
    const hint = near.length ? `; did you mean ${near.map((n) => `'${n}'`).join(' or ')}?` : names.length ? ` (tools: ${names.sort().join(', ')})` : '';
    return { code: 'TOOL_NOT_FOUND', message: `no tool named '${tool}' in pool '${pool.name}'${hint}` };
  }
}

function failNow(sink: CallSink, info: ErrorInfo): CallControl {
  queueMicrotask(() => sink.error(info));
  return { cancel() {} };
}

function mergePercentiles(pools: Pool[]): number[] {
  const all = pools.flatMap((p) => p.latency.percentiles(50, 99));
  // Without the raw samples, report the worst pool's percentiles (an upper bound).
  return [Math.max(...all.filter((_, i) => i % 2 === 0)), Math.max(...all.filter((_, i) => i % 2 === 1))];
}
