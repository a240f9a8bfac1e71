// A pool of identical Python workers serving one tools module. It routes calls
// (checkout → execute → checkin), queues them when every worker is busy, applies session
// affinity, and keeps its workers healthy: heartbeats, recycling without a capacity dip (the
// replacement is ready before the old worker drains), restarts with backoff, and a crash loop
// during startup marks the pool degraded instead of respawning forever.
import { DEFAULTS } from '../defaults.js';
import { SnakepitError, type ErrorInfo } from '../errors.js';
import { processStartTime } from '../proc.js';
import type { EncodedValue } from '../protocol/values.js';
import type { CallSink } from '../worker/channel.js';
import type { ToolDescription } from '../client/types.js';
import type { EventSink } from './events.js';
import { LatencyWindow } from './latency.js';
import { drawLimits, recycleReason, type RecyclePolicy } from './lifecycle.js';
import type { AgentLogger } from './log.js';
import { CallQueue } from './queue.js';
import { reapWorkerGroup } from './reap.js';
import { lateAnswer } from './deadlines.js';
import { requeueVerdict } from './requeue.js';
import { SessionTable, type Affinity } from './sessions.js';
import { exitCause, WorkerHandle, type WorkerExit, type WorkerSpec } from './worker-handle.js';
import { count } from '../text.js';

export interface PoolOptions {
  name: string;
  size: number;
  spec: WorkerSpec;
  affinity: Affinity;
  maxQueue: number;
  queueTimeoutMs: number;
  workerStartTimeoutMs: number;
  /** Workers spawned at once during startup (bounded, so large pools never fork-storm). */
  startBatch: number;
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
  /** Calls sent ahead to a busy worker when no worker is free (they wait inside the worker). */
  pipeline: number;
  heartbeatMs: number;
  heartbeatMisses: number;
  /** A tool still running this long after its call was cancelled gets its worker recycled, ms. */
  cancelGraceMs: number;
  /** A worker not ready in time gets this long to print its Python stacks before it is killed, ms. */
  stackDumpWaitMs: number;
  /** Times a call that a dying worker never started goes back to the queue before it fails. */
  maxRequeues: number;
  recycle: RecyclePolicy;
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
  /** strict-queue: the only worker this call may run on. */
  pinned: WorkerHandle | undefined;
  timer: NodeJS.Timeout | undefined;
  startedAt: number;
  /** Dispatches so far (a generation number: answers of an earlier dispatch are ignored). */
  attempts: number;
  /** Of those, dispatches to workers that died before starting the call (requeue.ts). */
  requeues: number;
  chunks: number;
}

interface Slot {
  id: string;
  worker: WorkerHandle;
  /** A replacement being started by a recycle; it takes over once ready. */
  replacement: WorkerHandle | undefined;
  restarts: number;
  recycles: number;
  crashStreak: number;
  startupFailures: number;
  respawn: NodeJS.Timeout | undefined;
  /** Added by `resize` and not ready yet: a failed start undoes the resize instead of restarting. */
  growing?: { ready(): void; fail(why: string): void } | undefined;
}

function newSlot(id: string): Slot {
  return { id, worker: undefined as unknown as WorkerHandle, replacement: undefined, restarts: 0, recycles: 0, crashStreak: 0, startupFailures: 0, respawn: undefined };
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
  recycles: number;
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
  recycled = 0;
  private running = 0;
  private readonly slots: Slot[] = [];
  /** Workers on their way out (recycled, or their slot scaled away), with the slot they served. */
  private readonly retiring = new Map<WorkerHandle, Slot>();
  private readonly queue: CallQueue<Tracked>;
  private readonly sessions: SessionTable;
  latency: LatencyWindow;
  private stopping = false;
  private draining = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private heartbeat: NodeJS.Timeout;
  private opts: PoolOptions;
  /** The next slot's number (`<pool>-<n>`): slots added by a resize never reuse a removed one's id. */
  private nextSlot: number;
  /** Reaps of exited workers' groups still in progress (stop waits for them). */
  private readonly reaping = new Set<Promise<void>>();
  private readyWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private idleWaiters: Array<() => void> = [];
  /** Slots not spawned yet during a batched startup. */
  private pendingStart: Slot[] = [];
  /** Calls of a worker that just died which it never started; requeued once its exit is handled. */
  private neverStarted: Tracked[] = [];

  constructor(
    options: PoolOptions,
    private readonly logger: AgentLogger,
    private readonly emit: EventSink = () => {},
    /** Whether anyone listens to events (per-call events are built only then). */
    private readonly watched: () => boolean = () => false,
  ) {
    this.opts = options;
    this.nextSlot = options.size;
    this.queue = new CallQueue(options.maxQueue);
    this.sessions = new SessionTable(options.sessionTtlMs, options.maxSessions);
    this.latency = new LatencyWindow(options.latencyWindow);
    this.timers.push(setInterval(() => this.sessions.sweep(Date.now()), 60_000).unref());
    this.heartbeat = setInterval(() => this.tick(), options.heartbeatMs).unref();
  }

  /** The pool's settings as they are now (a reload or resize changes them). */
  get options(): PoolOptions {
    return this.opts;
  }

  get name(): string {
    return this.opts.name;
  }

  /**
   * A re-read config's settings for this pool. Workers started from now on (replacements,
   * slots added by a resize) get the new spec; queue, session and health settings apply at once.
   * The size is `resize`'s business and is kept here.
   */
  reconfigure(next: PoolOptions): void {
    const was = this.opts;
    this.opts = { ...next, name: was.name, size: was.size, spec: { ...next.spec, runId: was.spec.runId } };
    this.queue.setCapacity(next.maxQueue);
    this.sessions.setLimits(next.sessionTtlMs, next.maxSessions);
    if (next.latencyWindow !== was.latencyWindow) this.latency = new LatencyWindow(next.latencyWindow);
    if (next.heartbeatMs !== was.heartbeatMs) {
      clearInterval(this.heartbeat);
      this.heartbeat = setInterval(() => this.tick(), next.heartbeatMs).unref();
    }
  }

  /**
   * Grows or shrinks the pool to `size` workers. Growing resolves once the new workers are
   * ready; if one fails to start, the added slots are removed again and the error says why (the
   * pool keeps its old size). Shrinking takes the newest slots out of routing at once; their
   * workers finish their calls (within stopGraceMs) and stop. Sessions on them move (hint) or
   * get SESSION_WORKER_LOST (strict modes), as when a worker dies.
   */
  async resize(size: number): Promise<{ previous: number; size: number }> {
    const previous = this.slots.length;
    if (this.stopping) throw new SnakepitError('UNAVAILABLE', `pool '${this.name}' is stopping`);
    if (!Number.isInteger(size) || size < 1) throw new SnakepitError('USAGE', `a pool needs at least 1 worker (got ${size}); to stop the agent use \`snakepit down\``);
    if (size > DEFAULTS.maxWorkers) throw new SnakepitError('USAGE', `a pool has at most ${DEFAULTS.maxWorkers} workers (maxWorkers), got ${size}: scale to ${DEFAULTS.maxWorkers} or fewer, or spread the load over more agents (\`snakepit cluster up\`, \`snakepit up --registry\`)`);
    if (size === previous) return { previous, size };
    this.opts = { ...this.opts, size };
    if (size < previous) {
      const removed = this.slots.splice(size);
      this.logger.log('info', this.name, `scaling down from ${previous} to ${count(size, 'worker')}: stopping ${removed.map((s) => s.id).join(', ')}`);
      await Promise.all(removed.map((slot) => this.retireSlot(slot, 'the pool was scaled down')));
      return { previous, size };
    }
    this.logger.log('info', this.name, `scaling up from ${previous} to ${count(size, 'worker')}`);
    const added: Slot[] = [];
    let failure: string | undefined;
    const ready = new Promise<void>((resolve) => {
      let left = size - previous;
      const growing = {
        ready: () => --left === 0 && resolve(),
        fail: (why: string) => {
          failure ??= why;
          resolve();
        },
      };
      for (let i = previous; i < size; i++) {
        const slot = newSlot(`${this.name}-${this.nextSlot++}`);
        slot.growing = growing;
        added.push(slot);
        this.slots.push(slot);
      }
    });
    // Spawned in waves of startBatch, as at startup (a big resize never fork-storms).
    for (const [i, slot] of added.entries()) {
      if (i < this.opts.startBatch) slot.worker = this.spawn(slot);
      else this.pendingStart.push(slot);
    }
    await ready;
    for (const slot of added) slot.growing = undefined;
    // Stopped meanwhile (`down` during a grow): the new workers stop with the pool; not a start failure.
    if (this.stopping) throw new SnakepitError('UNAVAILABLE', `pool '${this.name}' was stopped while it grew from ${previous} to ${count(size, 'worker')}`);
    if (failure !== undefined) {
      const keep = this.slots.filter((s) => !added.includes(s));
      this.slots.splice(0, this.slots.length, ...keep);
      this.pendingStart = this.pendingStart.filter((s) => !added.includes(s));
      this.opts = { ...this.opts, size: previous };
      await Promise.all(added.filter((s) => s.worker).map((slot) => this.retireSlot(slot, 'a new worker of the resize failed to start')));
      throw new SnakepitError('WORKER_START_FAILED', `pool '${this.name}' stays at ${count(previous, 'worker')}: a new worker failed to start (${failure})`);
    }
    return { previous, size };
  }

  /** Takes a slot's workers out of service: they finish their calls, then stop. */
  private async retireSlot(slot: Slot, why: string): Promise<void> {
    clearTimeout(slot.respawn);
    slot.respawn = undefined;
    this.pendingStart = this.pendingStart.filter((s) => s !== slot);
    const workers = [slot.worker, slot.replacement].filter((w): w is WorkerHandle => !!w);
    slot.replacement = undefined;
    for (const w of workers) {
      this.retiring.set(w, slot);
      this.sessions.loseWorker(w);
      this.releasePinned(w);
    }
    await Promise.all(workers.map((w) => w.stop(this.opts.stopGraceMs, this.opts.killGraceMs, why).then(() => this.retiring.delete(w))));
  }

  /** Spawns the workers in bounded batches and resolves when all are ready. */
  start(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
    for (let i = 0; i < this.opts.size; i++) {
      const slot = newSlot(`${this.name}-${i}`);
      this.slots.push(slot);
      if (i < this.opts.startBatch) slot.worker = this.spawn(slot);
      else this.pendingStart.push(slot);
    }
    return ready;
  }

  submit(call: PoolCall): CallControl {
    const t: Tracked = { call, id: 0, state: 'queued', worker: undefined, pinned: undefined, timer: undefined, startedAt: Date.now(), attempts: 0, requeues: 0, chunks: 0 };
    const control: CallControl = { cancel: () => this.cancel(t) };
    if (this.stopping) return this.reject(t, { code: 'UNAVAILABLE', message: `pool '${this.name}' is stopping` }, control);
    if (this.draining) return this.reject(t, { code: 'DRAINING', message: `pool '${this.name}' is draining and takes no new calls` }, control);
    if (this.degraded && !this.slots.some((s) => s.worker && s.worker.state !== 'exited')) {
      return this.reject(t, { code: 'UNAVAILABLE', message: `pool '${this.name}' is degraded: ${this.degraded}` }, control);
    }
    const size = call.args.json.length + call.args.blobs.reduce((n, b) => n + b.length, 0);
    if (size > this.opts.maxPayloadBytes) {
      return this.reject(t, { code: 'PAYLOAD_TOO_LARGE', message: `arguments of ${size} bytes exceed the limit of ${this.opts.maxPayloadBytes} bytes` }, control);
    }
    this.place(t);
    return control;
  }

  /** Stops taking new calls (DRAINING); resolves when queued and running calls have finished. */
  drain(): Promise<void> {
    this.draining = true;
    if (this.queue.depth === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Replaces every worker one at a time (new code is imported); no call fails. */
  async reload(): Promise<number> {
    let replaced = 0;
    const began = Date.now();
    for (const slot of [...this.slots]) {
      if (this.stopping) break;
      if (!this.slots.includes(slot)) continue; // scaled away meanwhile
      if (slot.worker.state === 'exited' || slot.worker.state === 'starting') continue;
      if (slot.worker.startedAt > began) continue; // started after the reload began: runs the new code already
      const failure = await this.recycle(slot, 'reload');
      if (failure) {
        throw new SnakepitError('WORKER_START_FAILED', `reload of pool '${this.name}' stopped after ${replaced} of ${count(this.slots.length, 'worker')}: the new worker failed to start (${failure}); the old workers keep serving`);
      }
      replaced++;
    }
    return replaced;
  }

  /** Restarts one worker without a capacity dip (its replacement is ready first). */
  async restartWorker(id: string): Promise<boolean> {
    const slot = this.slots.find((s) => s.id === id);
    if (!slot) return false;
    const failure = await this.recycle(slot, 'restart requested');
    if (failure) throw new SnakepitError('WORKER_START_FAILED', `the replacement of ${id} failed to start (${failure}); the old worker keeps serving`);
    return true;
  }

  /** Stops the pool: queued calls fail, in-flight calls get the grace period, workers exit. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    clearInterval(this.heartbeat);
    for (const t of this.queue.clear()) this.finish(t, { code: 'UNAVAILABLE', message: 'the agent is stopping' });
    for (const slot of this.slots) {
      clearTimeout(slot.respawn);
      slot.growing?.fail('the pool was stopped');
    }
    this.pendingStart = [];
    this.failStartup('the pool was stopped before its workers were ready');
    const all = [...this.slots.flatMap((s) => [s.worker, s.replacement]), ...this.retiring.keys()].filter((w): w is WorkerHandle => !!w);
    await Promise.all(all.map((w) => w.stop(this.opts.stopGraceMs, this.opts.killGraceMs, 'the pool stopped')));
    await Promise.all([...this.reaping]);
  }

  /** What a router needs every heartbeat, without building the stats document. */
  load(): { inFlight: number; queueDepth: number; capacity: number; sessions: number } {
    let capacity = 0;
    for (const s of this.slots) {
      const w = s.worker;
      if (w && (w.state === 'ready' || w.state === 'busy')) capacity += w.capacity;
    }
    return { inFlight: this.running, queueDepth: this.queue.depth, capacity, sessions: this.sessions.size };
  }

  stats(): { workers: WorkerStats[]; queueDepth: number; inFlight: number } {
    const now = Date.now();
    const row = (s: Slot, w: WorkerHandle): WorkerStats => ({
      id: s.id,
      pid: w.pid ?? 0,
      state: w.state,
      requests: w.requests,
      inFlight: w.inFlight,
      rssBytes: w.rssBytes(),
      uptimeMs: w.state === 'exited' ? 0 : now - w.startedAt,
      restarts: s.restarts,
      recycles: s.recycles,
      pool: this.name,
    });
    const workers: WorkerStats[] = [];
    for (const s of this.slots) {
      if (s.worker) workers.push(row(s, s.worker));
      if (s.replacement) workers.push(row(s, s.replacement));
    }
    for (const [w, slot] of this.retiring) workers.push(row(slot, w));
    return { workers, queueDepth: this.queue.depth, inFlight: this.running };
  }

  pids(): number[] {
    return this.slots.map((s) => s.worker?.pid).filter((p): p is number => p !== undefined);
  }

  // ── routing ────────────────────────────────────────────────────────────

  /** Routes a call; `front` (requeued calls) queues it at that position instead of last. */
  private place(t: Tracked, front?: { at: number }): void {
    const session = t.call.session;
    const affinity = this.opts.affinity;
    if (session !== null) {
      const bound = this.sessions.lookup(session, Date.now());
      if (bound.kind === 'lost') {
        this.sessions.forget(session);
        if (affinity !== 'hint') {
          this.finish(t, { code: 'SESSION_WORKER_LOST', message: `the worker of session '${session}' is gone (its session state with it); the next call starts the session afresh` });
          return;
        }
      } else if (bound.kind === 'bound') {
        const own = bound.worker;
        if (own.free) return this.dispatch(t, own);
        if (affinity === 'strict-fail-fast') {
          this.finish(t, { code: 'WORKER_BUSY', message: `the worker of session '${session}' is busy` });
          return;
        }
        if (affinity === 'strict-queue') {
          t.pinned = own;
          if (own.accepting) return this.dispatch(t, own);
          return this.enqueue(t, front);
        }
        // hint: any free worker first, else wait in the session worker's own pipeline.
        const free = this.pick(true);
        if (free) return this.dispatch(t, free);
        if (own.accepting) return this.dispatch(t, own);
      }
    }
    const worker = this.pick(true) ?? this.pick(false);
    if (worker) return this.dispatch(t, worker);
    this.enqueue(t, front);
  }

  private enqueue(t: Tracked, front?: { at: number }): void {
    const now = Date.now();
    if (front) this.queue.insert(front.at++, t, now);
    else if (!this.queue.push(t, now)) {
      this.finish(t, { code: 'QUEUE_FULL', message: `pool '${this.name}' queue is full (${this.opts.maxQueue} calls waiting); retry later` });
      return;
    }
    t.state = 'queued';
    const queueLimit = now + this.opts.queueTimeoutMs;
    const deadline = t.call.deadline ?? Infinity;
    t.timer = setTimeout(
      () => {
        if (t.state !== 'queued') return;
        this.queue.remove(t);
        const waited = Date.now() - t.startedAt;
        if (deadline <= queueLimit) this.finish(t, { code: 'TIMEOUT', message: `call to '${t.call.tool}' timed out after ${waited} ms waiting for a free worker` });
        else this.finish(t, { code: 'QUEUE_TIMEOUT', message: `call to '${t.call.tool}' waited ${waited} ms for a free worker in pool '${this.name}' (queueTimeoutMs ${this.opts.queueTimeoutMs})` });
      },
      Math.max(0, Math.min(queueLimit, deadline) - now),
    );
  }

  /**
   * The least loaded worker that is free (`free`), or that has room in its pipeline (`!free`):
   * calls are sent ahead to busy workers only when no worker is free, so a short queue never
   * waits behind a slow call while another worker idles.
   */
  private pick(free: boolean): WorkerHandle | undefined {
    let best: WorkerHandle | undefined;
    for (const s of this.slots) {
      const w = s.worker;
      if (!w || !(free ? w.free : w.accepting)) continue;
      if (!best || w.inFlight < best.inFlight || (w.inFlight === best.inFlight && w.requests < best.requests)) best = w;
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
        this.abandon(t);
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
        result: (v) => current() && this.finish(t, this.late(t), () => t.call.sink.result(v)),
        end: () => current() && this.finish(t, this.late(t), () => t.call.sink.end()),
        error: (info) => {
          if (!current()) return;
          if (info.code === 'WORKER_CRASHED' && t.call.idempotent && t.attempts - t.requeues < 2 && t.chunks === 0 && !this.stopping) {
            this.logger.log('warn', this.name, `retrying idempotent call to '${t.call.tool}' after: ${info.message}`);
            this.running--;
            t.state = 'queued';
            t.pinned = undefined;
            this.place(t);
            return;
          }
          this.finish(t, info);
        },
        neverStarted: () => {
          if (current()) this.neverStarted.push(t);
        },
      },
    );
  }

  /**
   * Calls that a worker which just died had not started (requeue.ts) go back to the front of the
   * queue, oldest first, with their deadline; or fail if the pool stops, the deadline passed,
   * their strict session lost its worker, or they were requeued maxRequeues times already.
   */
  private requeueNeverStarted(dead: WorkerHandle): void {
    const lost = this.neverStarted.splice(0);
    if (lost.length === 0) return;
    const front = { at: 0 };
    let requeued = 0;
    for (const t of lost) {
      if (t.state !== 'running') continue; // cancelled or timed out meanwhile
      const now = Date.now();
      const session = t.call.session;
      const strictSessionLost = this.opts.affinity !== 'hint' && session !== null && (t.pinned === dead || this.sessions.lookup(session, now).kind === 'lost');
      const verdict = requeueVerdict(
        { tool: t.call.tool, session, deadline: t.call.deadline, requeues: t.requeues },
        { now, pool: this.name, stopping: this.stopping, maxRequeues: this.opts.maxRequeues, strictSessionLost, workerId: dead.id },
      );
      if (!verdict.requeue) {
        if (verdict.error.code === 'SESSION_WORKER_LOST') this.sessions.forget(session!);
        this.finish(t, verdict.error);
        continue;
      }
      clearTimeout(t.timer);
      t.timer = undefined;
      this.running--;
      t.state = 'queued';
      t.worker = undefined;
      t.pinned = undefined;
      t.requeues++;
      requeued++;
      this.place(t, front);
    }
    if (requeued) this.logger.log('info', dead.id, `requeued ${requeued} call(s) it had not started`);
  }

  /** TIMEOUT for an answer that came after the call's deadline (deadlines.ts). */
  private late(t: Tracked): ErrorInfo | undefined {
    return lateAnswer({ tool: t.call.tool, deadline: t.call.deadline, startedAt: t.startedAt }, Date.now());
  }

  private cancel(t: Tracked): void {
    if (t.state === 'queued') {
      this.queue.remove(t);
      this.finish(t, { code: 'CANCELLED', message: `call to '${t.call.tool}' was cancelled while queued` });
    } else if (t.state === 'running') {
      this.abandon(t);
      this.finish(t, { code: 'CANCELLED', message: `call to '${t.call.tool}' was cancelled` });
    }
  }

  /**
   * The caller no longer waits for a running call: tell the worker (the tool sees
   * ctx.cancelled) and recycle the worker if the tool ignores that past the grace period.
   */
  private abandon(t: Tracked): void {
    const worker = t.worker;
    if (!worker) return;
    worker.cancel(t.id);
    const id = t.id;
    setTimeout(() => {
      if (!worker.hasCall(id) || this.stopping) return;
      const slot = this.slots.find((s) => s.worker === worker);
      this.logger.log('warn', worker.id, `call ${id} still running ${this.opts.cancelGraceMs} ms after it was cancelled`);
      if (slot) void this.recycle(slot, `a cancelled call kept running past ${this.opts.cancelGraceMs} ms`, 0);
    }, this.opts.cancelGraceMs).unref();
  }

  private reject(t: Tracked, error: ErrorInfo, control: CallControl): CallControl {
    this.finish(t, error);
    return control;
  }

  private finish(t: Tracked, error: ErrorInfo | undefined, deliver?: () => void): void {
    if (t.state === 'done') return;
    if (t.state === 'running') this.running--;
    t.state = 'done';
    clearTimeout(t.timer);
    const ms = Date.now() - t.startedAt;
    this.latency.record(ms);
    if (this.watched()) this.emit({ type: 'call.finished', pool: this.name, tool: t.call.tool, ms, code: error ? error.code : null });
    if (error) {
      this.failed++;
      t.call.sink.error(error);
    } else {
      this.completed++;
      deliver?.();
    }
    const w = t.worker;
    if (w && !this.stopping) this.checkRecycle(w);
    if (this.running === 0 && this.queue.depth === 0 && this.idleWaiters.length > 0) for (const r of this.idleWaiters.splice(0)) r();
  }

  /** A worker has capacity again: give it the oldest queued call it may take. */
  private drainQueue(worker: WorkerHandle): void {
    while (worker.accepting && this.queue.depth > 0) {
      const now = Date.now();
      const t = this.queue.popFirst((q) => {
        if (q.pinned) return q.pinned === worker;
        if (q.call.session === null) return true;
        const own = this.sessions.workerOf(q.call.session, now);
        // hint: a session waits for its own worker only while that worker could take it next.
        return !own || own === worker || !own.accepting;
      });
      if (!t) return;
      this.dispatch(t, worker);
    }
  }

  /** Fails queued calls pinned to a worker that is gone (strict-queue sessions). */
  private releasePinned(worker: WorkerHandle): void {
    for (;;) {
      const t = this.queue.popFirst((q) => q.pinned === worker);
      if (!t) return;
      this.sessions.forget(t.call.session!);
      this.finish(t, { code: 'SESSION_WORKER_LOST', message: `the worker of session '${t.call.session}' is gone (its session state with it)` });
    }
  }

  // ── health and lifecycle ───────────────────────────────────────────────

  private tick(): void {
    if (this.stopping) return;
    for (const w of this.liveWorkers()) {
      if (w.state === 'starting' || w.state === 'stopping' || w.state === 'exited') continue;
      const missed = w.ping();
      if (missed >= this.opts.heartbeatMisses) {
        this.logger.log('error', w.id, `missed ${missed} heartbeats (pid ${w.pid}): killing its process group`);
        this.emit({ type: 'worker.unhealthy', pool: this.name, worker: w.id, pid: w.pid ?? 0, missedPings: missed });
        w.kill(`missed ${missed} heartbeats of ${this.opts.heartbeatMs} ms`);
      }
    }
    for (const s of this.slots) if (s.worker) this.checkRecycle(s.worker);
  }

  private liveWorkers(): WorkerHandle[] {
    const out: WorkerHandle[] = [];
    for (const s of this.slots) {
      if (s.worker) out.push(s.worker);
      if (s.replacement) out.push(s.replacement);
    }
    return [...out, ...this.retiring.keys()];
  }

  private checkRecycle(w: WorkerHandle): void {
    if (w.state !== 'ready' && w.state !== 'busy') return;
    const slot = this.slots.find((s) => s.worker === w);
    if (!slot || slot.replacement) return;
    const why = recycleReason(this.opts.recycle, w.limits, { requests: w.requests, upMs: Date.now() - w.readyAt, rssBytes: this.opts.recycle.maxRssMb > 0 ? w.rssBytes() : 0 });
    if (why) void this.recycle(slot, why);
  }

  /**
   * Replaces a slot's worker without a capacity dip: the replacement starts while the old
   * worker keeps serving; once it is ready it takes over and the old one finishes its calls
   * (within `graceMs`), then stops.
   */
  private recycle(slot: Slot, reason: string, graceMs = this.opts.stopGraceMs): Promise<string | undefined> {
    if (slot.replacement || this.stopping) return Promise.resolve(undefined);
    const old = slot.worker;
    this.logger.log('info', slot.id, `recycling pid ${old.pid}: ${reason}`);
    const next = this.spawn(slot, true);
    slot.replacement = next;
    return new Promise<string | undefined>((resolve) => {
      const settle = (failure?: string): void => {
        next.off('ready', onReady);
        next.off('exit', onExit);
        resolve(failure);
      };
      const onReady = (): void => {
        slot.replacement = undefined;
        slot.worker = next;
        slot.recycles++;
        this.recycled++;
        this.retiring.set(old, slot);
        this.sessions.loseWorker(old);
        this.releasePinned(old);
        this.emit({ type: 'worker.recycled', pool: this.name, worker: slot.id, pid: old.pid ?? 0, reason });
        void old.stop(graceMs, this.opts.killGraceMs, `recycled: ${reason}`).then(() => this.retiring.delete(old));
        settle();
      };
      const onExit = (exit: WorkerExit): void => {
        // The replacement died before it was ready: keep the old worker; a later check retries.
        slot.replacement = undefined;
        const how = exitCause(exit.code, exit.signal);
        this.logger.log('error', slot.id, `replacement exited with ${how} before it was ready; keeping pid ${old.pid}`);
        settle(`exit ${how}${exit.stderrTail ? `:\n${exit.stderrTail}` : ''}`);
      };
      next.once('ready', onReady);
      next.once('exit', onExit);
    });
  }

  // ── supervision ────────────────────────────────────────────────────────

  private spawn(slot: Slot, asReplacement = false): WorkerHandle {
    const worker = new WorkerHandle(slot.id, slot.restarts, this.opts.spec, this.logger);
    worker.limits = drawLimits(this.opts.recycle);
    worker.pipeline = this.opts.pipeline;
    if (worker.pid !== undefined) {
      // Detached: the worker leads its own process group (pgid = pid).
      worker.startTime = processStartTime(worker.pid) ?? 0;
      this.emit({ type: 'worker.spawned', pool: this.name, worker: slot.id, pid: worker.pid, pgid: worker.pid, startTime: worker.startTime, cmdline: worker.cmdline, ...worker.contained });
    }
    const startTimer = setTimeout(() => {
      if (worker.state === 'starting') worker.killUnready(`not ready within ${this.opts.workerStartTimeoutMs} ms`, this.opts.stackDumpWaitMs);
    }, this.opts.workerStartTimeoutMs);
    worker.on('ready', (info) => {
      clearTimeout(startTimer);
      slot.startupFailures = 0;
      slot.growing?.ready();
      this.emit({ type: 'worker.ready', pool: this.name, worker: slot.id, pid: worker.pid ?? 0, startupMs: worker.readyAt - worker.startedAt });
      // The newest worker's tools win: after a reload the pool describes the new code.
      this.tools = new Map(info.tools.map((t) => [t.name, t]));
      this.startNext();
      if (this.slots.every((s) => s.worker && s.worker.state !== 'starting' && s.worker.state !== 'exited')) this.resolveStartup();
      if (!asReplacement) this.drainQueue(worker);
    });
    worker.on('idle', () => this.drainQueue(worker));
    worker.on('exit', (exit) => {
      clearTimeout(startTimer);
      this.onWorkerExit(slot, worker, exit);
    });
    return worker;
  }

  /** Batched startup: one more pending slot gets its first worker. */
  private startNext(): void {
    const slot = this.pendingStart.shift();
    if (slot && !this.stopping) slot.worker = this.spawn(slot);
  }

  private onWorkerExit(slot: Slot, worker: WorkerHandle, exit: WorkerExit): void {
    this.reap(worker);
    this.sessions.loseWorker(worker);
    this.requeueNeverStarted(worker);
    this.releasePinned(worker);
    this.emit({ type: 'worker.exited', pool: this.name, worker: slot.id, pid: worker.pid ?? 0, code: exit.code, signal: exit.signal, expected: exit.expected, reason: exit.reason ?? null });
    if (this.stopping || exit.expected || slot.worker !== worker) return;
    if (slot.growing && exit.duringStartup) {
      // A slot that a resize added never came up: the resize is undone (see resize), not retried.
      slot.growing.fail(`exit ${exitCause(exit.code, exit.signal)}${exit.reason ? `: ${exit.reason}` : ''}${exit.stderrTail ? `\n${exit.stderrTail}` : ''}`);
      return;
    }
    const upFor = Date.now() - worker.startedAt;
    if (upFor >= this.opts.restartResetMs) slot.crashStreak = 0;
    slot.crashStreak++;
    if (exit.duringStartup) slot.startupFailures++;
    const how = exitCause(exit.code, exit.signal);
    // Exit code 3 is the runtime's "could not import the tools module": retrying cannot help.
    // Nor, while the pool is starting (`up` waits), can waiting again for a worker that hung.
    const hungAtStart = exit.startTimedOut && this.readyWaiters.length > 0;
    if (exit.duringStartup && (exit.code === 3 || hungAtStart || slot.startupFailures >= this.opts.maxStartupFailures)) {
      if (hungAtStart) this.degraded = hangReport(slot.id, this.opts.spec.tools, exit);
      else {
        const why = exit.code === 3 ? 'could not load the tools module' : `died during startup ${slot.startupFailures} times in a row`;
        this.degraded = `worker ${slot.id} ${why} (last exit: ${how})${exit.reason ? `: ${exit.reason}` : ''}${exit.stderrTail ? `\n${exit.stderrTail}` : ''}`;
      }
      this.logger.log('error', this.name, `pool degraded: ${this.degraded}`);
      this.emit({ type: 'pool.degraded', pool: this.name, reason: this.degraded });
      this.failStartup(this.degraded);
      if (!this.slots.some((s) => s.worker && s.worker.state !== 'exited')) {
        for (const t of this.queue.clear()) this.finish(t, { code: 'UNAVAILABLE', message: `pool '${this.name}' is degraded: ${this.degraded}` });
      }
      return;
    }
    // The first crash in a row is replaced at once (capacity comes back within a worker's start
    // time); from the second on the delay doubles from restartBackoffMs up to the cap.
    const backoff = slot.crashStreak <= 1 ? 0 : Math.min(this.opts.restartBackoffMaxMs, this.opts.restartBackoffMs * 2 ** (slot.crashStreak - 2));
    this.logger.log('warn', slot.id, `restarting in ${backoff} ms (crash ${slot.crashStreak} in a row)`);
    slot.respawn = setTimeout(() => {
      slot.respawn = undefined;
      if (this.stopping) return;
      slot.restarts++;
      slot.worker = this.spawn(slot);
    }, backoff);
  }

  /** Kills what a tool left in the exited worker's process group (proven ours by the process table). */
  private reap(worker: WorkerHandle): void {
    if (worker.pid === undefined) return;
    const record = { id: worker.id, pool: this.name, pid: worker.pid, startTime: worker.startTime, cmdline: worker.cmdline, cgroup: worker.contained.cgroup };
    const done = reapWorkerGroup(this.opts.spec.runId, record, this.opts.killGraceMs).then(
      (killed) => {
        if (killed.length) this.logger.log('info', worker.id, `reaped ${killed.length} process(es) left in its group: ${killed.map((k) => k.pid).join(', ')}`);
      },
      (err: Error) => this.logger.log('warn', worker.id, `could not reap its process group: ${err.message}`),
    );
    this.reaping.add(done);
    void done.finally(() => this.reaping.delete(done));
  }

  private resolveStartup(): void {
    for (const w of this.readyWaiters.splice(0)) w.resolve();
  }

  private failStartup(reason: string): void {
    for (const w of this.readyWaiters.splice(0)) w.reject(new SnakepitError('WORKER_START_FAILED', reason));
  }
}

/** Why a pool could not start: a worker hung before it was ready, and where (its Python stack). */
function hangReport(workerId: string, tools: string | undefined, exit: WorkerExit): string {
  const module = tools ?? 'snakepit.demo';
  const head = `worker ${workerId} (tools module ${module}) hung while starting: ${exit.reason ?? 'not ready in time'}`;
  const stack = exit.stuck ? `\nits Python stack (most recent call first):\n${exit.stuck.stack}` : '';
  return `${head}${stack}${exit.stderrTail ? `\nstderr before that:\n${exit.stderrTail}` : ''}`;
}
