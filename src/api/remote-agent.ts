// An agent reached over its socket, as an AgentApi: calls go over one multiplexed, batched
// Exchange stream (h2-client.ts: gRPC over HTTP/2 for an address, or the home's local lane, with
// no grpc-js loaded), management over the typed unary client (unary-client.ts, grpc-js loaded
// on first use). `connect()` wraps one of these for users; a router holds one per agent.
import { DEFAULTS } from '../defaults.js';
import { SnakepitError, type ErrorInfo } from '../errors.js';
import type { AgentApi, AgentHealth, AgentLoad, AgentRequest, ClusterOutcome, ClusterRequest, AgentStats, CallControl, CallSink, EncodedValue, ReloadResult, ScaleResult, ToolInfo, WatchOptions, WatchUpdate } from './agent-api.js';
import type { AgentEvent } from '../agent/events.js';
import { MESSAGE_SLACK_BYTES } from './grpc-frame.js';
import { ExchangeClient } from './h2-client.js';
import type { HeartbeatMessage, UnaryClient, UnaryMethods } from './unary-client.js';
import { decodeMessage, encodeFramed } from './agent-codec.js';
import { serverStream } from './h2-stream.js';
import type { ClientSecurity } from '../security/client.js';

export interface RemoteAgentOptions {
  /** The Agent API: `unix:/path.sock` or `host:port` (gRPC over HTTP/2). */
  address: string;
  /** The home's local lane for calls (`/path/exchange.sock`), when the agent is on this host. */
  lane?: string;
  /** The agent's id when known (agent.json, membership); otherwise learned from its stats. */
  id?: string;
  /** Builds the error for "nobody answers here" (AGENT_UNAVAILABLE, saying how to start one). */
  noAgent: () => SnakepitError;
  /** A cheap check that no agent can be there (a home without a socket): fail at once. */
  absent?: () => boolean;
  maxPayloadBytes?: number;
  /** Extra time past a call's own timeout before the client gives up on the agent, ms. */
  deadlineSlackMs?: number;
  /** TLS and the cluster token, for a TCP address (security/client.ts: plaintext only to loopback unless told). */
  security?: ClientSecurity | undefined;
}

const NULL_VALUE: EncodedValue = { json: Buffer.from('null'), blobs: [] };
/** Extra time past a call's own timeout so the agent's own TIMEOUT error arrives first, ms. */
const DEADLINE_SLACK_MS = 2_000;
const SERVING = 1;
const HEARTBEATS_PATH = '/snakepit.v1.Agent/Heartbeats';
/** A heartbeat is a few numbers and the agent's id: anything much larger is not one. */
const HEARTBEAT_MESSAGE_BYTES = 64 * 1024;

export class RemoteAgent implements AgentApi {
  readonly address: string;
  private learnedId: string | undefined;
  private readonly exchange: ExchangeClient;
  private unary: Promise<UnaryClient> | undefined;
  private readonly maxPayloadBytes: number;

  constructor(private readonly opts: RemoteAgentOptions) {
    this.address = opts.address;
    this.maxPayloadBytes = opts.maxPayloadBytes ?? DEFAULTS.maxPayloadBytes;
    this.exchange = new ExchangeClient({
      address: opts.lane ? `lane:${opts.lane}` : opts.address,
      noAgent: opts.noAgent,
      deadlineSlackMs: opts.deadlineSlackMs ?? DEADLINE_SLACK_MS,
      maxMessageBytes: this.maxPayloadBytes + MESSAGE_SLACK_BYTES,
      ...(opts.lane ? {} : { security: opts.security }),
    });
  }

  get id(): string {
    return this.opts.id ?? this.learnedId ?? this.address;
  }

  execute(req: AgentRequest, done: (error: ErrorInfo | null, value?: EncodedValue) => void): CallControl {
    return this.call(req, false, { chunk() {}, result: (v) => done(null, v), end: () => done(null, NULL_VALUE), error: (e) => done(e) });
  }

  stream(req: AgentRequest, sink: CallSink): CallControl {
    return this.call(req, true, sink);
  }

  /**
   * Starts a call whose answer goes to `sink` (execute and stream in one; what a router uses, so
   * a call costs no wrapper sink): `stream` false means one result (a streaming tool's chunks as
   * one array).
   */
  call(req: AgentRequest, stream: boolean, sink: CallSink): CallControl {
    if (this.opts.absent?.()) {
      const info = this.opts.noAgent().toJSON();
      queueMicrotask(() => sink.error(info));
      return { cancel() {} };
    }
    return this.exchange.start(
      { id: 0, tool: req.tool, args: req.args, session: req.session, timeoutMs: req.timeoutMs, idempotent: req.idempotent ?? false, pool: req.pool, require: req.require, wire: req.wire, stream },
      sink,
    );
  }

  async tools(pool?: string): Promise<ToolInfo[]> {
    const reply = await this.rpc('ListTools', { pool: pool ?? '' });
    return reply.tools.map((t) => ({
      name: t.name,
      doc: t.doc,
      stream: t.stream,
      pool: t.pool,
      ...(t.agents?.length ? { agents: t.agents } : {}),
      params: t.params.map((p) => ({ name: p.name, type: p.type, required: p.required, default: p.required ? null : (JSON.parse(p.defaultJson || 'null') as unknown) })),
    }));
  }

  async stats(): Promise<AgentStats> {
    const stats = JSON.parse((await this.rpc('Stats', {})).json) as AgentStats;
    if (stats.agent?.id) this.learnedId = stats.agent.id;
    return stats;
  }

  async health(): Promise<AgentHealth> {
    if (this.opts.absent?.()) throw this.opts.noAgent();
    const status = await (await this.client()).health('');
    return status === SERVING ? { serving: true, reason: null } : { serving: false, reason: `the agent at ${this.address} is not serving` };
  }

  /** One beat's worth of load (a router keeps a Heartbeats stream open instead). */
  load(): Promise<AgentLoad> {
    return new Promise((resolve, reject) => {
      const stop = this.heartbeats(
        DEFAULTS.watchIntervalMaxMs,
        (b) => {
          stop();
          resolve({ inFlight: b.inFlight, queueDepth: b.queueDepth, capacity: b.capacity, sessions: b.sessions, serving: b.serving });
        },
        (err) => reject(err ?? new SnakepitError('AGENT_UNAVAILABLE', `the agent at ${this.address} ended its heartbeats`)),
      );
    });
  }

  /**
   * The agent's heartbeats (its load at once, then every `intervalMs`); returns the function that
   * stops them. Over Node's http2 rather than grpc-js (h2-stream.ts): a router keeps one open to
   * every agent, from the moment the agent joins.
   */
  heartbeats(intervalMs: number, onBeat: (beat: HeartbeatMessage) => void, onEnd: (err?: Error) => void): () => void {
    if (this.opts.absent?.()) {
      const err = this.opts.noAgent();
      queueMicrotask(() => onEnd(err));
      return () => {};
    }
    const cancel = serverStream(
      { address: this.address, path: HEARTBEATS_PATH, request: encodeFramed('HeartbeatRequest', { intervalMs }), maxMessageBytes: HEARTBEAT_MESSAGE_BYTES, noAgent: this.opts.noAgent, security: this.opts.security },
      (body) => {
        let beat: HeartbeatMessage;
        try {
          beat = decodeMessage<HeartbeatMessage>('Heartbeat', body);
        } catch (err) {
          cancel();
          onEnd(new SnakepitError('PROTOCOL_ERROR', `malformed heartbeat from the agent at ${this.address}: ${(err as Error).message}`));
          return;
        }
        if (beat.agent) this.learnedId = beat.agent;
        onBeat(beat);
      },
      onEnd,
    );
    return cancel;
  }

  async drain(deadlineMs?: number): Promise<boolean> {
    return (await this.drainAgent(deadlineMs)).drained;
  }

  /** Drain, with the pid of the agent process that answered (it stops once drained). */
  drainAgent(deadlineMs = 0): Promise<{ drained: boolean; pid: number }> {
    return this.rpc('Drain', { deadlineMs });
  }

  async reload(pool?: string): Promise<ReloadResult> {
    const r = await this.rpc('Reload', { pool: pool ?? '' });
    return { replaced: r.replaced, changes: r.changes ?? [] };
  }

  scale(size: number, pool?: string): Promise<ScaleResult> {
    return this.rpc('Scale', { pool: pool ?? '', size });
  }

  async cluster(request: ClusterRequest): Promise<ClusterOutcome> {
    return JSON.parse((await this.rpc('ClusterControl', request)).json) as ClusterOutcome;
  }

  async restartWorker(worker: string): Promise<void> {
    await this.rpc('RestartWorker', { worker });
  }

  async shutdown(graceMs?: number): Promise<void> {
    await this.shutdownAgent(graceMs);
  }

  /** Shutdown, resolving with the pid of the agent process that accepted it. */
  async shutdownAgent(graceMs = 0): Promise<number> {
    return (await this.rpc('Shutdown', { graceMs })).pid;
  }

  watch(options: WatchOptions, push: (update: WatchUpdate) => void, end: (err?: Error) => void): () => void {
    let cancel: (() => void) | undefined;
    let stopped = false;
    void (async () => {
      if (this.opts.absent?.()) throw this.opts.noAgent();
      const client = await this.client();
      if (stopped) return;
      cancel = client.watch(
        { intervalMs: options.intervalMs ?? 0, calls: options.calls ?? false },
        (m) => {
          if (m.statsJson) push({ type: 'stats', stats: JSON.parse(m.statsJson) as AgentStats });
          else if (m.eventJson) push({ type: 'event', event: JSON.parse(m.eventJson) as AgentEvent });
          else if (m.lagged !== undefined) push({ type: 'lagged', dropped: m.lagged });
        },
        end,
      );
    })().catch((err: Error) => end(err));
    return () => {
      stopped = true;
      cancel?.();
    };
  }

  close(): void {
    this.exchange.close();
    void this.unary?.then((u) => u.close());
  }

  private client(): Promise<UnaryClient> {
    this.unary ??= import('./unary-client.js').then((m) => m.unaryClient(this.address, this.maxPayloadBytes, this.opts.noAgent, this.opts.security));
    return this.unary;
  }

  private async rpc<M extends keyof UnaryMethods>(method: M, request: UnaryMethods[M][0]): Promise<UnaryMethods[M][1]> {
    if (this.opts.absent?.()) throw this.opts.noAgent();
    return (await this.client()).call(method, request);
  }
}
