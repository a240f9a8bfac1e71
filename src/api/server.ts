// Serves the Agent API over gRPC for any implementation of the seam (AgentApi: an in-process
// Agent, or a router over remote agents), and the standard grpc.health.v1 service beside it.
// Calls pass through as bytes: the JSON arguments a client sent reach the worker untouched, and
// the worker's result bytes go straight back.
//
// Every request is a peer's bytes: one that does not parse (the codec's MalformedMessage) is
// answered with INVALID_ARGUMENT, a call of the wrong shape with INVALID_ARGUMENTS (checked by the
// agent), and numbers that feed timers are clamped. Streams honour backpressure: what a slow
// reader leaves unread is bounded (see exchange-session.ts and `watch` below).
import * as grpc from '@grpc/grpc-js';
import type { AgentEvent } from '../agent/events.js';
import { SnakepitError } from '../errors.js';
import { DEFAULTS } from '../defaults.js';
import type { AgentApi, AgentStats, ReloadResult, ScaleResult } from './agent-api.js';
import { AGENT_KEY, CODE_KEY, statusFor } from './status.js';
import { MalformedMessage, healthServiceDefinition } from './agent-codec.js';
import { ExchangeSession, toRequest, valueBytes, wireError, type ReplyPort } from './exchange-session.js';
import { serverCredentials, tokenInterceptor, type ServerSecurity } from '../security/server.js';
import { agentService, channelOptions, type WireClientBatch, type WireExecuteReply, type WireExecuteRequest, type WireServerBatch, type WireStreamReply, type WireTool } from './proto.js';

export interface ServerHooks {
  /**
   * The Shutdown or Drain RPC was called: answer first, then stop what is served (a daemon stops
   * its whole process). Without hooks the served implementation's own `shutdown` runs.
   */
  onShutdown?(graceMs: number): void;
  /** What the daemon adds to the stats document it serves (Stats, WatchEvents): where it listens, its labels, its warnings. */
  about?(): AgentAbout | undefined;
}

/** The daemon's part of `stats.agent`. */
export type AgentAbout = Pick<AgentStats['agent'], 'network' | 'labels' | 'warnings'>;

/** `stats` with the daemon's part added (the same object when there is none). */
function withAbout(stats: AgentStats, hooks: ServerHooks): AgentStats {
  const about = hooks.about?.();
  return about ? { ...stats, agent: { ...stats.agent, ...about } } : stats;
}

export interface ServeLimits {
  maxPayloadBytes: number;
  replyBufferBytes: number;
  watchBufferBytes: number;
}

type AnyCall = { request: unknown };

/** A request that did not parse: the status to answer with, else undefined. */
function malformed(call: AnyCall): grpc.StatusObject | undefined {
  const r = call.request;
  if (!(r instanceof MalformedMessage)) return undefined;
  return { code: grpc.status.INVALID_ARGUMENT, details: r.message, metadata: new grpc.Metadata() };
}

/** A failed request's status: the code as metadata beside it (status.ts maps it back). */
function failed(err: unknown): Partial<grpc.StatusObject> {
  const e = err instanceof SnakepitError ? err : new SnakepitError('INTERNAL', (err as Error)?.message ?? String(err));
  const md = new grpc.Metadata();
  md.set(CODE_KEY, e.toJSON().code);
  if (e.agent) md.set(AGENT_KEY, e.agent);
  return { code: statusFor(e.code), details: e.message, metadata: md };
}

/** Answers a unary call with what `work` resolves to, or its failure as a status. */
function answer<T>(callback: grpc.sendUnaryData<T>, work: Promise<T>): void {
  work.then(
    (v) => callback(null, v),
    (err: unknown) => callback(failed(err)),
  );
}

const clamp = (n: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, n));

/**
 * Writes to a grpc-js server stream, counting the bytes not yet handed to HTTP/2: grpc-js holds
 * further messages in the stream's own buffer until the peer's flow-control window lets them go,
 * and calls each write's callback as its message leaves.
 */
class Backlog {
  bytes = 0;
  constructor(private readonly onDrain: () => void = () => {}) {}
  write<T>(stream: { write(m: T, cb: () => void): boolean }, message: T, bytes: number): void {
    this.bytes += bytes;
    stream.write(message, () => {
      this.bytes -= bytes;
      this.onDrain();
    });
  }
}

export function agentHandlers(
  agent: AgentApi,
  hooks: ServerHooks,
  limits: ServeLimits,
  closers: Set<() => void>,
): grpc.UntypedServiceImplementation {
  return {
    Execute(call: grpc.ServerUnaryCall<WireExecuteRequest, WireExecuteReply>, callback: grpc.sendUnaryData<WireExecuteReply>) {
      const bad = malformed(call);
      if (bad) return callback(bad);
      let answered = false;
      const control = agent.execute(toRequest(call.request)!, (error, value) => {
        answered = true;
        callback(null, error ? { error: wireError(error) } : { result: value! });
      });
      call.on('cancelled', () => {
        if (!answered) control.cancel();
      });
    },
    ExecuteStream(call: grpc.ServerWritableStream<WireExecuteRequest, WireStreamReply>) {
      const bad = malformed(call);
      if (bad) return void call.emit('error', bad);
      let done = false;
      const backlog = new Backlog();
      const finish = (last: WireStreamReply): void => {
        if (done) return;
        done = true;
        call.write(last);
        call.end();
      };
      const control = agent.stream(toRequest(call.request)!, {
        chunk: (v) => {
          if (done) return;
          if (backlog.bytes > limits.replyBufferBytes) {
            control.cancel();
            finish({ error: wireError({ code: 'SLOW_CONSUMER', message: `the client left more than ${limits.replyBufferBytes} bytes of chunks unread (replyBufferBytes); the streaming call was cancelled` }) });
            return;
          }
          backlog.write(call, { chunk: v }, valueBytes(v));
        },
        result: (v) => {
          if (done) return;
          call.write({ chunk: v });
          finish({ end: true });
        },
        end: () => finish({ end: true }),
        error: (e) => finish({ error: wireError(e) }),
      });
      call.on('cancelled', () => {
        if (!done) {
          done = true;
          control.cancel();
        }
      });
    },
    Exchange(call: grpc.ServerDuplexStream<WireClientBatch, WireServerBatch>) {
      exchange(agent, call, limits, closers);
    },
    ListTools(call: grpc.ServerUnaryCall<{ pool: string }, { tools: WireTool[] }>, callback: grpc.sendUnaryData<{ tools: WireTool[] }>) {
      const bad = malformed(call);
      if (bad) return callback(bad);
      answer(
        callback,
        agent.tools(call.request.pool || undefined).then((list) => ({
          tools: list.map((t) => ({
            name: t.name,
            doc: t.doc,
            stream: t.stream,
            pool: t.pool,
            agents: t.agents ?? [],
            params: t.params.map((p) => ({ name: p.name, type: p.type, required: p.required, defaultJson: p.required ? '' : JSON.stringify(p.default ?? null) })),
          })),
        })),
      );
    },
    Stats(call: grpc.ServerUnaryCall<object, { json: string }>, callback: grpc.sendUnaryData<{ json: string }>) {
      const bad = malformed(call);
      if (bad) return callback(bad);
      answer(callback, agent.stats().then((st) => ({ json: JSON.stringify(withAbout(st, hooks)) })));
    },
    Drain(call: grpc.ServerUnaryCall<{ deadlineMs: number }, { drained: boolean; pid: number }>, callback: grpc.sendUnaryData<{ drained: boolean; pid: number }>) {
      const bad = malformed(call);
      if (bad) return callback(bad);
      const deadline = call.request.deadlineMs ? Math.min(call.request.deadlineMs, DEFAULTS.maxTimeoutMs) : undefined;
      agent.drain(deadline).then(
        (drained) => {
          callback(null, { drained, pid: process.pid });
          setImmediate(() => stopServed(0));
        },
        (err: unknown) => callback(failed(err)),
      );
    },
    Reload(call: grpc.ServerUnaryCall<{ pool: string }, ReloadResult>, callback: grpc.sendUnaryData<ReloadResult>) {
      const bad = malformed(call);
      if (bad) return callback(bad);
      answer(callback, agent.reload(call.request.pool || undefined));
    },
    Scale(call: grpc.ServerUnaryCall<{ pool: string; size: number }, ScaleResult>, callback: grpc.sendUnaryData<ScaleResult>) {
      const bad = malformed(call);
      if (bad) return callback(bad);
      answer(callback, agent.scale(call.request.size, call.request.pool || undefined));
    },
    WatchEvents(call: grpc.ServerWritableStream<{ intervalMs: number; calls: boolean }, { statsJson?: string; eventJson?: string; lagged?: number }>) {
      const bad = malformed(call);
      if (bad) return void call.emit('error', bad);
      watch(agent, call, limits, closers, hooks);
    },
    RestartWorker(call: grpc.ServerUnaryCall<{ worker: string }, object>, callback: grpc.sendUnaryData<object>) {
      const bad = malformed(call);
      if (bad) return callback(bad);
      answer(callback, agent.restartWorker(call.request.worker).then(() => ({})));
    },
    Heartbeats(call: grpc.ServerWritableStream<{ intervalMs: number }, Record<string, unknown>>) {
      const bad = malformed(call);
      if (bad) return void call.emit('error', bad);
      heartbeats(agent, call, closers);
    },
    ClusterControl(call: grpc.ServerUnaryCall<{ op: string; agent: string; count: number; deadlineMs: number }, { json: string }>, callback: grpc.sendUnaryData<{ json: string }>) {
      const bad = malformed(call);
      if (bad) return callback(bad);
      const r = call.request;
      if (!agent.cluster) return callback(failed(new SnakepitError('USAGE', 'this is an agent, not a cluster\'s router: start a cluster with `snakepit cluster up`')));
      const request =
        r.op === 'cordon' || r.op === 'uncordon'
          ? { op: r.op, agent: r.agent }
          : r.op === 'drain'
            ? { op: r.op, agent: r.agent, ...(r.deadlineMs ? { deadlineMs: Math.min(r.deadlineMs, DEFAULTS.maxTimeoutMs) } : {}) }
            : r.op === 'scale'
              ? { op: r.op, count: r.count }
              : undefined;
      if (!request) return callback(failed(new SnakepitError('USAGE', `unknown cluster operation '${r.op.slice(0, 40)}' (cordon, uncordon, drain, scale)`)));
      answer(callback, agent.cluster(request as never).then((outcome) => ({ json: JSON.stringify(outcome) })));
    },
    Shutdown(call: grpc.ServerUnaryCall<{ graceMs: number }, { pid: number }>, callback: grpc.sendUnaryData<{ pid: number }>) {
      const bad = malformed(call);
      if (bad) return callback(bad);
      callback(null, { pid: process.pid });
      setImmediate(() => stopServed(Math.min(call.request.graceMs, DEFAULTS.maxTimeoutMs)));
    },
  };

  function stopServed(graceMs: number): void {
    if (hooks.onShutdown) hooks.onShutdown(graceMs);
    else void agent.shutdown(graceMs);
  }
}

function exchange(agent: AgentApi, call: grpc.ServerDuplexStream<WireClientBatch, WireServerBatch>, limits: ServeLimits, closers: Set<() => void>): void {
  const backlog = new Backlog(() => session.onDrain());
  const port: ReplyPort = {
    send: (replies, bytes) => backlog.write(call, { replies }, bytes),
    backlog: () => backlog.bytes,
    pause: () => call.pause(),
    resume: () => call.resume(),
    end: () => call.end(),
    // grpc-js keeps what it holds until the stream goes; a status is all that can be sent.
    abort: (reason) => call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: reason }),
  };
  const session = new ExchangeSession(agent, port, { replyBufferBytes: limits.replyBufferBytes, abortBytes: limits.replyBufferBytes + limits.maxPayloadBytes });
  const close = (): void => {
    closers.delete(stop);
    session.close();
  };
  // The server stops: no more replies will come (the agent stopped), end the stream.
  const stop = (): void => {
    close();
    call.end();
  };
  closers.add(stop);
  call.on('data', (batch: WireClientBatch | MalformedMessage) => {
    if (batch instanceof MalformedMessage) {
      close();
      call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: batch.message });
      return;
    }
    session.onBatch(batch);
  });
  // Half-close: the client sends no more calls, but every accepted one is still answered.
  call.on('end', () => session.halfClose());
  call.on('cancelled', close);
  call.on('error', close);
  call.on('close', close);
}

/**
 * A WatchEvents stream: a snapshot at once and every interval, plus events. A watcher that does
 * not read gets no more than `watchBufferBytes` queued: past it, events are dropped and counted,
 * and snapshots skipped; once it has read its backlog it gets `lagged: N`, then a fresh snapshot.
 */
function watch(
  agent: AgentApi,
  call: grpc.ServerWritableStream<{ intervalMs: number; calls: boolean }, { statsJson?: string; eventJson?: string; lagged?: number }>,
  limits: ServeLimits,
  closers: Set<() => void>,
  hooks: ServerHooks,
): void {
  const every = clamp(call.request.intervalMs || DEFAULTS.watchIntervalMs, DEFAULTS.watchIntervalMinMs, DEFAULTS.watchIntervalMaxMs);
  let dropped = 0;
  let lagging = false;
  let ended = false;
  const backlog = new Backlog(() => {
    if (!lagging || ended || backlog.bytes > limits.watchBufferBytes / 2) return;
    lagging = false;
    backlog.write(call, { lagged: dropped }, 8);
    dropped = 0;
    if (newest !== undefined) backlog.write(call, { statsJson: newest }, newest.length + 8);
    newest = undefined;
  });
  /** False (and the update counted when it is an event) while the watcher is behind. */
  const room = (isEvent: boolean): boolean => {
    if (ended) return false;
    if (lagging || backlog.bytes > limits.watchBufferBytes) {
      lagging = true;
      if (isEvent) dropped++;
      return false;
    }
    return true;
  };
  // While the watcher is behind, only the newest snapshot is kept (sent once it caught up).
  let newest: string | undefined;
  const stop = agent.watch(
    { intervalMs: every, calls: call.request.calls },
    (u) => {
      if (u.type === 'stats') {
        const json = JSON.stringify(withAbout(u.stats, hooks));
        if (room(false)) backlog.write(call, { statsJson: json }, json.length + 8);
        else newest = json;
      } else if (u.type === 'event') {
        if (room(true)) {
          const json = eventJson(u.event);
          backlog.write(call, { eventJson: json }, json.length + 8);
        }
      } else if (!room(false)) dropped += u.dropped;
      else backlog.write(call, { lagged: u.dropped }, 8);
    },
    () => end(),
  );
  const end = untilGone(call, closers, () => {
    ended = true;
    stop();
  });
}

/**
 * Ties a server stream to the server's life: `cleanup` runs once, when the peer goes away (or the
 * stream fails) or when the server stops, which also ends the stream. Returns that ending.
 */
function untilGone(call: grpc.ServerWritableStream<unknown, unknown>, closers: Set<() => void>, cleanup: () => void): () => void {
  let done = false;
  const stop = (): void => {
    if (done) return;
    done = true;
    cleanup();
    closers.delete(end);
  };
  const end = (): void => {
    stop();
    call.end();
  };
  call.on('cancelled', stop);
  call.on('close', stop);
  call.on('error', stop);
  closers.add(end);
  return end;
}

/**
 * A Heartbeats stream: the agent's load at once and every interval (clamped like a watch). A
 * beat is a snapshot: one that finds the last still unread is skipped, not queued.
 */
function heartbeats(agent: AgentApi, call: grpc.ServerWritableStream<{ intervalMs: number }, Record<string, unknown>>, closers: Set<() => void>): void {
  const every = clamp(call.request.intervalMs || DEFAULTS.clusterHeartbeatMs, DEFAULTS.watchIntervalMinMs, DEFAULTS.watchIntervalMaxMs);
  const backlog = new Backlog();
  let seq = 0;
  let busy = false;
  const beat = (): void => {
    if (busy || backlog.bytes > 0) return;
    busy = true;
    agent.load().then(
      (l) => {
        busy = false;
        backlog.write(call, { agent: agent.id, seq: ++seq, ...l }, 32);
      },
      () => {
        busy = false;
      },
    );
  };
  beat();
  const timer = setInterval(beat, every);
  untilGone(call, closers, () => clearInterval(timer));
}

/** Every watcher receives the same event object: it is serialized once for all of them. */
let lastEvent: AgentEvent | undefined;
let lastEventJson = '';
function eventJson(e: AgentEvent): string {
  if (e !== lastEvent) {
    lastEvent = e;
    lastEventJson = JSON.stringify(e);
  }
  return lastEventJson;
}

// ── grpc.health.v1 ───────────────────────────────────────────────────────

const SERVING = 1;
const NOT_SERVING = 2;
const SERVICE_UNKNOWN = 3;
/** The services a probe may name: the server as a whole, and the Agent API. */
const HEALTH_SERVICES = new Set(['', 'snakepit.v1.Agent']);
const HEALTH_EVENTS = new Set<AgentEvent['type']>(['agent.draining', 'agent.stopping', 'agent.stopped', 'pool.degraded', 'worker.ready']);

export function healthHandlers(agent: AgentApi, closers: Set<() => void>): grpc.UntypedServiceImplementation {
  const status = async (): Promise<number> => ((await agent.health()).serving ? SERVING : NOT_SERVING);
  return {
    Check(call: grpc.ServerUnaryCall<{ service: string }, { status: number }>, callback: grpc.sendUnaryData<{ status: number }>) {
      const bad = malformed(call);
      if (bad) return callback(bad);
      if (!HEALTH_SERVICES.has(call.request.service)) return callback({ code: grpc.status.NOT_FOUND, details: `unknown service '${call.request.service.slice(0, 200)}'` });
      answer(callback, status().then((s) => ({ status: s })));
    },
    Watch(call: grpc.ServerWritableStream<{ service: string }, { status: number }>) {
      const bad = malformed(call);
      if (bad) return void call.emit('error', bad);
      // An unknown service stays SERVICE_UNKNOWN (the standard keeps the stream open for it).
      const known = HEALTH_SERVICES.has(call.request.service);
      let last = -1;
      let ended = false;
      // A status is a few bytes: a watcher that never reads holds at most one per change.
      const send = (now: number): void => {
        if (ended || now === last) return;
        last = now;
        call.write({ status: now });
      };
      if (!known) send(SERVICE_UNKNOWN);
      else void status().then(send, () => send(NOT_SERVING));
      const unsubscribe = agent.watch(
        { intervalMs: DEFAULTS.watchIntervalMaxMs },
        (u) => {
          if (!known || u.type !== 'event' || !HEALTH_EVENTS.has(u.event.type)) return;
          void status().then(send, () => send(NOT_SERVING));
        },
        () => {
          send(NOT_SERVING);
          end();
        },
      );
      const end = untilGone(call, closers, () => {
        ended = true;
        unsubscribe();
      });
    },
  };
}

export interface AgentServer {
  /** The port bound (0 for a unix socket). */
  port: number;
  /** Ends open streams (after the agent stopped), then stops the server. */
  close(): Promise<void>;
}

export interface ServeOptions {
  /** TCP: TLS credentials and the token every Agent API call must carry (the health service stays open). */
  security?: ServerSecurity;
}

/**
 * Binds a gRPC server for `agent` (any AgentApi) at `address` (`unix:/path/agent.sock`, or
 * `HOST:PORT` with `options.security`). One server per address: the token check is the TCP
 * listener's alone, the home's 0600 socket needs none.
 */
export async function serveAgent(agent: AgentApi, address: string, hooks: ServerHooks, maxPayloadBytes: number, options: ServeOptions = {}): Promise<AgentServer> {
  const security = options.security;
  const server = new grpc.Server({ ...channelOptions(maxPayloadBytes), ...(security ? { interceptors: [tokenInterceptor(security.tokenDigest)] } : {}) });
  const closers = new Set<() => void>();
  const limits: ServeLimits = { maxPayloadBytes, replyBufferBytes: DEFAULTS.replyBufferBytes, watchBufferBytes: DEFAULTS.watchBufferBytes };
  server.addService(agentService().service, agentHandlers(agent, hooks, limits, closers));
  server.addService(healthServiceDefinition(), healthHandlers(agent, closers));
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, security ? serverCredentials(security) : grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        // Clients keep their Exchange, WatchEvents and health Watch streams open; end them so the server can stop.
        for (const end of [...closers]) end();
        closers.clear();
        const force = setTimeout(() => server.forceShutdown(), 2_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
