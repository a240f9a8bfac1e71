// A pool of identical Python workers serving one tools module. It routes calls
// (checkout → execute → checkin), queues them when every worker is busy, keeps sessions on their
// worker, and replaces workers that die (with backoff; a crash loop during startup marks the
// pool degraded instead of respawning forever).
import { SnakepitError, type ErrorInfo } from '../errors.js';
import type { EncodedValue } from '../protocol/values.js';
import type { CallSink, ToolDescription } from '../worker/channel.js';
import { LatencyWindow } from './latency.js';
import type { EventSink } from './events.js';
import type { AgentLogger } from './log.js';
import { CallQueue } from './queue.js';
import { SessionTable } from './sessions.js';
import { WorkerHandle, type WorkerExit, type WorkerSpec } from './worker-handle.js';
import { processStartTime } from '../proc.js';

export interface PoolOptions {
  name: string;
  size: number;
  spec: WorkerSpec;
  maxQueue: number;
  queueTimeoutMs: number;
  workerStartTimeoutMs: number;
  stopGraceMs: number;
  killGraceMs: number;
  restartBackoffMs: number;
  restartBackoffMaxMs: number;
  restartResetMs: number;
  maxStartupFailures: number;
  sessionTtlMs: number;
  maxSessions: number;
  latencyWindow: number;
  /** Largest encoded arguments accepted for a call, bytes. */
  maxPayloadBytes: number;
}

/** A call as the pool receives it: arguments already encoded, never re-parsed here. */
export interface PoolCall {
  tool: string;
  session: string | null;
  args: EncodedValue;
  /** Absolute deadline (Date.now() ms) or null. */
  deadline: number | null;
  idempotent: boolean;
  sink: CallSink;
}

export interface CallControl {
  /** The caller went away: drop the call from the queue or cancel it on its worker. */
  cancel(): void;
}

interface Tracked {
  call: PoolCall;
  id: number;
  state: 'queued' | 'running' | 'done';
  worker: WorkerHandle | undefined;
  timer: NodeJS.Timeout | undefined;
  startedAt: number;
  attempts: number;
  chunks: number;
}

interface Slot {
  id: string;
  worker: WorkerHandle;
  restarts: number;
  crashStreak: number;
  startupFailures: number;
  respawn: NodeJS.Timeout | undefined;
}

export interface WorkerStats {
  id: string;
  pid: number;
  state: string;
  requests: number;
  inFlight: number;
  rssBytes: number;
  uptimeMs: number;
  restarts: number;
  pool: string;
}

let nextCallId = 1;
function newCallId(): number {
  const id = nextCallId;
  nextCallId = nextCallId >= 0xfffffffe ? 1 : nextCallId + 1;
  return id;
}

export class Pool {
  tools = new Map<string, ToolDescription>();
  degraded: string | undefined;
  completed = 0;
  failed = 0;
  private running = 0;
  private readonly slots: Slot[] = [];
  private readonly queue: CallQueue<Tracked>;
  private readonly sessions: SessionTable;
  readonly latency: LatencyWindow;
  private stopping = false;
  private sweeper: NodeJS.Timeout;
  private readyWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  constructor(
    readonly options: PoolOptions,
    private readonly logger: AgentLogger,
    private readonly emit: EventSink = () => {},
  ) {
    this.queue = new CallQueue(options.maxQueue);
    this.sessions = new SessionTable(options.sessionTtlMs, options.maxSessions);
    this.latency = new LatencyWindow(options.latencyWindow);
    this.sweeper = setInterval(() => this.sessions.sweep(Date.now()), 60_000).unref();
  }

  get name(): string {
    return this.options.name;
  }

  /** Spawns every worker at once and resolves when all are ready. */
  start(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
    for (let i = 0; i < this.options.size; i++) {
      const slot: Slot = { id: `${this.name}-${i}`, worker: undefined as unknown as WorkerHandle, restarts: 0, crashStreak: 0, startupFailures: 0, respawn: undefined };
      this.slots.push(slot);
      this.spawn(slot);
    }
    const timeout = setTimeout(() => {
      this.failStartup(`workers of pool '${this.name}' were not ready within ${this.options.workerStartTimeoutMs} ms`);
    }, this.options.workerStartTimeoutMs).unref();
    return ready.finally(() => clearTimeout(timeout));
  }

  submit(call: PoolCall): CallControl {
    const t: Tracked = { call, id: 0, state: 'queued', worker: undefined, timer: undefined, startedAt: Date.now(), attempts: 0, chunks: 0 };
    const control: CallControl = { cancel: () => this.cancel(t) };
    if (this.stopping) {
      this.finish(t, { code: 'UNAVAILABLE', message: `pool '${this.name}' is stopping` });
      return control;
    }
    if (this.degraded && !this.slots.some((s) => s.worker.state !== 'exited')) {
      this.finish(t, { code: 'UNAVAILABLE', message: `pool '${this.name}' is degraded: ${this.degraded}` });
      return control;
    }
    const size = call.args.json.length + call.args.blobs.reduce((n, b) => n + b.length, 0);
    if (size > this.options.maxPayloadBytes) {
      this.finish(t, { code: 'PAYLOAD_TOO_LARGE', message: `arguments of ${size} bytes exceed the limit of ${this.options.maxPayloadBytes} bytes` });
      return control;
    }
    this.place(t);
    return control;
  }

  /** Stops the pool: queued calls fail, in-flight calls get the grace period, workers exit. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.sweeper);
    for (const t of this.queue.clear()) this.finish(t, { code: 'UNAVAILABLE', message: 'the agent is stopping' });
    for (const slot of this.slots) clearTimeout(slot.respawn);
    this.failStartup('the pool was stopped before its workers were ready');
    await Promise.all(this.slots.map((s) => s.worker.stop(this.options.stopGraceMs, this.options.killGraceMs)));
  }

  stats(): { workers: WorkerStats[]; queueDepth: number; inFlight: number } {
    const now = Date.now();
    return {
      workers: this.slots.map((s) => ({
        id: s.id,
        pid: s.worker.pid ?? 0,
        state: s.worker.state,
        requests: s.worker.requests,
        inFlight: s.worker.inFlight,
        rssBytes: s.worker.rssBytes(),
        uptimeMs: s.worker.state === 'exited' ? 0 : now - s.worker.startedAt,
        restarts: s.restarts,
        pool: this.name,
      })),
      queueDepth: this.queue.depth,
      inFlight: this.running,
    };
  }

  /** Every worker pid with its process group, for the registry and for cleanup checks. */
  pids(): number[] {
    return this.slots.map((s) => s.worker.pid).filter((p): p is number => p !== undefined);
  }

  // ── routing ────────────────────────────────────────────────────────────

  private place(t: Tracked): void {
    const worker = this.pick(t.call.session);
    if (worker) {
      this.dispatch(t, worker);
      return;
    }
    const now = Date.now();
    if (!this.queue.push(t, now)) {
      this.finish(t, { code: 'QUEUE_FULL', message: `pool '${this.name}' queue is full (${this.options.maxQueue} calls waiting); retry later` });
      return;
    }
    t.state = 'queued';
    const queueLimit = now + this.options.queueTimeoutMs;
    const deadline = t.call.deadline ?? Infinity;
    const at = Math.min(queueLimit, deadline);
    t.timer = setTimeout(() => {
      if (t.state !== 'queued') return;
      this.queue.remove(t);
      if (deadline <= queueLimit) this.finish(t, { code: 'TIMEOUT', message: `call to '${t.call.tool}' timed out after ${now - t.startedAt + (at - now)} ms waiting for a free worker` });
      else this.finish(t, { code: 'QUEUE_TIMEOUT', message: `call to '${t.call.tool}' waited ${this.options.queueTimeoutMs} ms for a free worker in pool '${this.name}'` });
    }, Math.max(0, at - now));
  }

  /** Chooses a worker: the session's own worker when it can take the call, else any free one. */
  private pick(session: string | null): WorkerHandle | undefined {
    if (session !== null) {
      const own = this.sessions.workerOf(session, Date.now());
      if (own?.accepting) return own;
    }
    let best: WorkerHandle | undefined;
    for (const s of this.slots) {
      const w = s.worker;
      if (w.accepting && (!best || w.inFlight < best.inFlight || (w.inFlight === best.inFlight && w.requests < best.requests))) best = w;
    }
    return best;
  }

  private dispatch(t: Tracked, worker: WorkerHandle): void {
    clearTimeout(t.timer);
    t.timer = undefined;
    const now = Date.now();
    const left = t.call.deadline === null ? null : t.call.deadline - now;
    if (left !== null && left <= 0) {
      this.finish(t, { code: 'TIMEOUT', message: `call to '${t.call.tool}' timed out before it could start` });
      return;
    }
    t.state = 'running';
    t.worker = worker;
    t.id = newCallId();
    t.attempts++;
    this.running++;
    if (t.call.session !== null) this.sessions.bind(t.call.session, worker, now);
    if (left !== null) {
      t.timer = setTimeout(() => {
        if (t.state !== 'running') return;
        worker.cancel(t.id);
        this.finish(t, { code: 'TIMEOUT', message: `call to '${t.call.tool}' timed out after ${Date.now() - t.startedAt} ms` });
      }, left);
    }
    const attempt = t.attempts;
    const current = (): boolean => t.state === 'running' && t.attempts === attempt;
    worker.run(
      { id: t.id, tool: t.call.tool, session: t.call.session, timeoutMs: left, args: t.call.args },
      {
        chunk: (v) => {
          if (!current()) return;
          t.chunks++;
          t.call.sink.chunk(v);
        },
        result: (v) => current() && this.finish(t, undefined, () => t.call.sink.result(v)),
        end: () => current() && this.finish(t, undefined, () => t.call.sink.end()),
        error: (info) => {
          if (!current()) return;
          if (info.code === 'WORKER_CRASHED' && t.call.idempotent && t.attempts < 2 && t.chunks === 0 && !this.stopping) {
            this.logger.log('warn', this.name, `retrying idempotent call to '${t.call.tool}' after: ${info.message}`);
            this.running--;
            t.state = 'queued';
            this.place(t);
            return;
          }
          this.finish(t, info);
        },
      },
    );
  }

  private cancel(t: Tracked): void {
    if (t.state === 'queued') {
      this.queue.remove(t);
      this.finish(t, { code: 'CANCELLED', message: `call to '${t.call.tool}' was cancelled while queued` });
    } else if (t.state === 'running') {
      t.worker?.cancel(t.id);
      this.finish(t, { code: 'CANCELLED', message: `call to '${t.call.tool}' was cancelled` });
    }
  }

  private finish(t: Tracked, error: ErrorInfo | undefined, deliver?: () => void): void {
    if (t.state === 'done') return;
    if (t.state === 'running') this.running--;
    t.state = 'done';
    clearTimeout(t.timer);
    this.latency.record(Date.now() - t.startedAt);
    if (error) {
      this.failed++;
      t.call.sink.error(error);
    } else {
      this.completed++;
      deliver?.();
    }
  }

  /** A worker has capacity again: give it the oldest queued call it may take. */
  private drainQueue(worker: WorkerHandle): void {
    while (worker.accepting && this.queue.depth > 0) {
      const t = this.queue.popFirst((q) => {
        if (q.call.session === null) return true;
        const own = this.sessions.workerOf(q.call.session, Date.now());
        // hint affinity: wait for the session's worker only while it is about to be free.
        return !own || own === worker || !own.accepting;
      });
      if (!t) return;
      this.dispatch(t, worker);
    }
  }

  // ── supervision ────────────────────────────────────────────────────────

  private spawn(slot: Slot): void {
    const worker = new WorkerHandle(slot.id, slot.restarts, this.options.spec, this.logger);
    slot.worker = worker;
    if (worker.pid !== undefined) {
      // Detached: the worker leads its own process group (pgid = pid).
      this.emit({ type: 'worker.spawned', pool: this.name, worker: slot.id, pid: worker.pid, pgid: worker.pid, startTime: processStartTime(worker.pid) ?? 0, cmdline: worker.cmdline });
    }
    worker.on('ready', (info) => {
      this.emit({ type: 'worker.ready', pool: this.name, worker: slot.id, pid: worker.pid ?? 0, startupMs: worker.readyAt - worker.startedAt });
      slot.startupFailures = 0;
      if (this.tools.size === 0) for (const t of info.tools) this.tools.set(t.name, t);
      if (this.slots.every((s) => s.worker.state !== 'starting' && s.worker.state !== 'exited')) this.resolveStartup();
      this.drainQueue(worker);
    });
    worker.on('idle', () => this.drainQueue(worker));
    worker.on('exit', (exit) => this.onWorkerExit(slot, worker, exit));
  }

  private onWorkerExit(slot: Slot, worker: WorkerHandle, exit: WorkerExit): void {
    this.sessions.dropWorker(worker);
    this.emit({ type: 'worker.exited', pool: this.name, worker: slot.id, pid: worker.pid ?? 0, code: exit.code, signal: exit.signal, expected: exit.expected, reason: exit.reason ?? null });
    if (this.stopping || exit.expected || slot.worker !== worker) return;
    const upFor = Date.now() - worker.startedAt;
    if (upFor >= this.options.restartResetMs) slot.crashStreak = 0;
    slot.crashStreak++;
    if (exit.duringStartup) slot.startupFailures++;
    const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
    // Exit code 3 is the runtime's "could not import the tools module": retrying cannot help.
    if (exit.duringStartup && (exit.code === 3 || slot.startupFailures >= this.options.maxStartupFailures)) {
      const why = exit.code === 3 ? 'could not load the tools module' : `died during startup ${slot.startupFailures} times in a row`;
      this.degraded = `worker ${slot.id} ${why} (last exit: ${how})${exit.reason ? `: ${exit.reason}` : ''}${exit.stderrTail ? `\n${exit.stderrTail}` : ''}`;
      this.logger.log('error', this.name, `pool degraded: ${this.degraded}`);
      this.emit({ type: 'pool.degraded', pool: this.name, reason: this.degraded });
      this.failStartup(this.degraded);
      if (!this.slots.some((s) => s.worker.state !== 'exited')) {
        for (const t of this.queue.clear()) this.finish(t, { code: 'UNAVAILABLE', message: `pool '${this.name}' is degraded: ${this.degraded}` });
      }
      return;
    }
    const backoff = Math.min(this.options.restartBackoffMaxMs, this.options.restartBackoffMs * 2 ** (slot.crashStreak - 1));
    this.logger.log('warn', slot.id, `restarting in ${backoff} ms (crash ${slot.crashStreak} in a row)`);
    slot.respawn = setTimeout(() => {
      slot.respawn = undefined;
      if (this.stopping) return;
      slot.restarts++;
      this.spawn(slot);
    }, backoff);
  }

  private resolveStartup(): void {
    for (const w of this.readyWaiters.splice(0)) w.resolve();
  }

  private failStartup(reason: string): void {
    for (const w of this.readyWaiters.splice(0)) w.reject(new SnakepitError('WORKER_START_FAILED', reason));
  }
}
