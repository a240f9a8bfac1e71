// One Python worker process plus its channel. States:
//   starting → ready ⇄ busy → draining → stopping → exited
// A worker receives calls only after its READY frame. Calls in flight when the process dies fail
// with WORKER_CRASHED, so no caller ever hangs on a dead worker. The process runs in its own
// process group (detached), so stopping it also stops anything a tool spawned.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { ErrorInfo } from '../errors.js';
import type { EncodedValue } from '../protocol/values.js';
import { closedChannel, type CallFrame, type CallSink, type ReadyInfo, type WorkerChannel, type WorkerTransport } from '../worker/channel.js';
import { transportFor, type TransportName } from '../worker/transports.js';
import { logLevel, type AgentLogger } from './log.js';
import { rssBytes } from '../proc.js';
import { withoutClientSecurityEnv } from '../defaults.js';
import { containWorker, removeCgroup, type ContainmentKind } from './containment.js';
import { Heartbeat } from './health.js';
import { LineSplitter } from './log-lines.js';
import { splitUnanswered } from './requeue.js';
import { parseStacks, stuckAt, type Stuck } from './stacks.js';
import type { RecycleLimits } from './lifecycle.js';

export type WorkerState = 'starting' | 'ready' | 'busy' | 'draining' | 'stopping' | 'exited';

export interface WorkerSpec {
  python: string;
  /** How the agent talks to the worker (default `pipe`). */
  transport: TransportName;
  /** Directory holding the `snakepit` Python package (prepended to PYTHONPATH). */
  runtimeDir: string;
  /** Tools module: a .py path or a module name; undefined serves the demo module. */
  tools: string | undefined;
  threads: number;
  env: Record<string, string>;
  cwd: string;
  runId: string;
  maxFrameBytes: number;
  stderrTailLines: number;
  /** Longest line of worker output logged as one record; the rest follows as a continuation. */
  logLineMaxBytes: number;
}

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the worker died before its READY frame. */
  duringStartup: boolean;
  /** True when the agent asked it to stop. */
  expected: boolean;
  stderrTail: string;
  reason: string | undefined;
  /** It was killed for not being ready in time (workerStartTimeoutMs). */
  startTimedOut: boolean;
  /** Where it was stuck then, from the Python stacks it printed (undefined if it printed none). */
  stuck: Stuck | undefined;
}

/** The pool's side of one call sent to this worker. */
export interface WorkerCallSink extends CallSink {
  /**
   * The worker died before it could have started the call (it was still waiting inside the
   * worker: see requeue.ts), so the call never ran. Replaces `error` for such calls.
   */
  neverStarted(info: ErrorInfo): void;
}

export declare interface WorkerHandle {
  on(event: 'ready', listener: (info: ReadyInfo) => void): this;
  on(event: 'idle', listener: () => void): this;
  on(event: 'exit', listener: (exit: WorkerExit) => void): this;
}

export class WorkerHandle extends EventEmitter {
  state: WorkerState = 'starting';
  readonly startedAt = Date.now();
  readyAt = 0;
  requests = 0;
  info: ReadyInfo | undefined;
  capacity = 1;
  readonly heartbeat = new Heartbeat();
  /** Process start time (src/proc.ts), set by the pool at spawn. */
  startTime = 0;
  /** Recycle limits drawn for this worker (set by the pool). */
  limits: RecycleLimits = { requests: 0, ttlMs: 0 };
  /** Unanswered calls in the order they were sent (a Map keeps insertion order). */
  private readonly inflight = new Map<number, WorkerCallSink>();
  /** False once some answers of the worker may be lost (broken channel, output not read to the end). */
  private answersComplete = true;
  /** Undefined when spawn() itself threw (the worker never existed). */
  private readonly child: ChildProcess | undefined;
  private readonly channel: WorkerChannel;
  private readonly stderrTail: string[] = [];
  private failure: string | undefined;
  private expectedExit = false;
  /** Why the agent stopped the worker (a recycle's reason), for its exit line. */
  private stopReason: string | undefined;
  /** Set while a worker that did not start in time prints its stacks (killUnready). */
  private stackLines: string[] | undefined;
  private stackTimer: NodeJS.Timeout | undefined;
  private startTimedOut = false;
  private stuck: Stuck | undefined;
  readonly exited: Promise<WorkerExit>;
  /** The command line the worker was started with (recorded in the process registry). */
  readonly cmdline: string[];
  /** How its descendants are contained (recorded in the process registry; see containment.ts). */
  readonly contained: { containment: ContainmentKind; cgroup?: string };

  constructor(
    readonly id: string,
    readonly restarts: number,
    private readonly spec: WorkerSpec,
    private readonly logger: AgentLogger,
  ) {
    super();
    const transport = transportFor(spec.transport);
    let finish!: (exit: WorkerExit) => void;
    this.exited = new Promise((resolve) => (finish = resolve));
    let finished = false;
    const done = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (finished) return;
      finished = true;
      finish(this.onExit(code, signal));
    };
    let prepared: ReturnType<WorkerTransport['prepare']> | undefined;
    let child: ChildProcess | undefined;
    const args = ['-m', 'snakepit'];
    const contain = containWorker(spec.runId, id);
    if (contain.warning) logger.log('warn', id, contain.warning);
    this.contained = { containment: contain.kind, ...(contain.cgroup ? { cgroup: contain.cgroup } : {}) };
    try {
      prepared = transport.prepare(id);
      args.push(...prepared.args);
      if (spec.tools) args.push('--tools', spec.tools);
      if (spec.threads > 1) args.push('--threads', String(spec.threads));
      const pythonPath = [spec.runtimeDir, spec.env.PYTHONPATH ?? process.env.PYTHONPATH].filter(Boolean).join(':');
      child = spawn(spec.python, args, {
        cwd: spec.cwd,
        env: {
          // Never where the cluster token is (a foreground `up` has SNAKEPIT_TOKEN_FILE in its environment).
          ...withoutClientSecurityEnv(process.env),
          ...spec.env,
          PYTHONPATH: pythonPath,
          PYTHONUNBUFFERED: '1',
          SNAKEPIT_WORKER_ID: id,
          SNAKEPIT_AGENT_PID: String(process.pid),
          SNAKEPIT_RUN_ID: spec.runId,
          // The worker refuses to send a frame the agent would reject, answering ERROR instead.
          SNAKEPIT_MAX_FRAME_BYTES: String(spec.maxFrameBytes),
          ...contain.env,
          ...prepared.env,
        },
        stdio: ['pipe', 'pipe', 'pipe', ...Array.from({ length: prepared.extraPipes }, () => 'pipe' as const)],
        // Own process group: a stop signals the whole group, tools' children included.
        detached: true,
      });
    } catch (err) {
      // spawn() throws for some failures (e.g. EINVAL, a bad cwd type): a start failure too.
      this.failure = `could not start ${spec.python}: ${(err as Error).message}`;
    }
    this.cmdline = [spec.python, ...args];
    this.child = child;
    // The worker joins its cgroup by itself: one that never ran leaves it empty.
    if (child?.pid === undefined && contain.cgroup) removeCgroup(contain.cgroup);
    if (child) {
      child.once('error', (err) => {
        this.failure = `could not start ${spec.python}: ${err.message}`;
        this.logger.log('error', id, this.failure);
        if (child.pid === undefined) done(null, null);
      });
    }
    if (!child || !prepared || !hasPipes(child, 3 + prepared.extraPipes)) {
      // Out of file descriptors (EMFILE / ENFILE), Node hands back a child without stdio and
      // emits 'error' on the next tick; a throw above left no child at all. Either way this is a
      // worker that failed to start (the pool backs off and, after the usual count, marks itself
      // degraded), never an exception in the agent.
      this.channel = closedChannel();
      if (prepared) transport.discard?.(prepared);
      if (!child) setImmediate(() => done(null, null));
      return;
    }
    child.once('exit', (code, signal) => {
      // Frames the worker wrote just before dying may still be in transit: read them first
      // (bounded, in case a tool's own child inherited the channel). They say which calls
      // finished, so the calls it never started can be requeued (requeue.ts).
      void within(this.channel.ended, DRAIN_AFTER_EXIT_MS).then((all) => {
        if (!all) this.answersComplete = false;
        done(code, signal);
      });
    });
    child.stdin!.on('error', () => {});
    this.pipeLines(child.stdout!, 'stdout');
    this.pipeLines(child.stderr!, 'stderr');
    this.channel = transport.open(child, prepared, {
      ready: (info) => this.onReady(info),
      frame: (callId, kind, value) => this.onFrame(callId, kind, value),
      callError: (callId, info) => this.settle(callId)?.error(info),
      pong: (seq) => this.heartbeat.pong(seq),
      log: (line) =>
        this.logger.log(logLevel(line.level), `${id}${line.callId ? ` call ${line.callId}` : ''}`, `${line.logger}: ${line.message}`, {
          worker: id,
          stream: 'log',
          ...(line.callId ? { callId: line.callId } : {}),
          logger: line.logger,
          text: line.message,
        }),
      failed: (err) => this.onChannelFailed(err),
    }, spec.maxFrameBytes);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get inFlight(): number {
    return this.inflight.size;
  }

  /** Calls the pool may send ahead of capacity; they wait inside the worker (set by the pool). */
  pipeline = 0;

  /** Has a free call slot: a call sent now starts at once. */
  get free(): boolean {
    return (this.state === 'ready' || this.state === 'busy') && this.inflight.size < this.capacity;
  }

  /** May take one more call: free, or busy with room left in its pipeline. */
  get accepting(): boolean {
    return (this.state === 'ready' || this.state === 'busy') && this.inflight.size < this.capacity + this.pipeline;
  }

  /** Sends a call. The caller has checked `accepting`. */
  run(call: CallFrame, sink: WorkerCallSink): void {
    this.inflight.set(call.id, sink);
    this.requests++;
    if (this.inflight.size >= this.capacity) this.state = 'busy';
    this.channel.send(call);
  }

  /** True while the worker still runs the call (it has not answered yet). */
  hasCall(callId: number): boolean {
    return this.inflight.has(callId);
  }

  /** Sends the next heartbeat PING; returns the beats missed in a row before it. */
  ping(): number {
    const seq = this.heartbeat.beat();
    this.channel.ping(seq);
    return this.heartbeat.missed;
  }

  cancel(callId: number): void {
    if (this.inflight.has(callId)) this.channel.cancel(callId);
  }

  /** Resident set size of the Python process itself (src/proc.ts; 0 when unknown). */
  rssBytes(): number {
    const pid = this.pid;
    if (!pid || this.state === 'exited') return 0;
    return rssBytes(pid);
  }

  /**
   * Stops the worker: no new calls, in-flight calls get `graceMs` to finish, then SHUTDOWN and
   * stdin EOF, then SIGTERM to the process group, then SIGKILL after `killGraceMs`.
   */
  async stop(graceMs: number, killGraceMs: number, why?: string): Promise<WorkerExit> {
    if (this.state === 'exited') return this.exited;
    this.expectedExit = true;
    this.stopReason ??= why;
    if (this.state !== 'stopping') {
      this.state = 'draining';
      if (this.inflight.size > 0) await within(this.drained(), graceMs);
      this.state = 'stopping';
      this.channel.shutdown();
      this.child?.stdin?.end();
    }
    if (await within(this.exited, killGraceMs)) return this.exited;
    this.signalGroup('SIGTERM');
    if (await within(this.exited, killGraceMs)) return this.exited;
    this.signalGroup('SIGKILL');
    return this.exited;
  }

  /**
   * A worker that is not ready in time: asks it where it is stuck (SIGUSR1: it prints every
   * thread's Python stack on stderr, see worker.py), gives it `waitMs` to do so, then kills it.
   * The exit says where it was stuck (`WorkerExit.stuck`), typically a tools module that hangs on
   * import.
   */
  killUnready(reason: string, waitMs: number): void {
    if (this.state !== 'starting' || this.startTimedOut) return;
    this.startTimedOut = true;
    this.stackLines = [];
    this.logger.log('warn', this.id, `${reason}: asking for its Python stacks (SIGUSR1), then killing it`);
    const pid = this.pid;
    try {
      if (pid) process.kill(pid, 'SIGUSR1'); // the process only, not the tools' children
    } catch {
      /* already gone */
    }
    this.stackTimer = setTimeout(() => {
      this.stuck = stuckAt(parseStacks(this.stackLines ?? []), this.spec.tools);
      this.kill(`${reason}${this.stuck ? `, stuck in ${this.stuck.where}` : ' (it printed no Python stack)'}`);
    }, waitMs);
  }

  /** Kills the process group at once (used when a worker is wedged or the agent must go now). */
  kill(reason: string): void {
    this.failure ??= reason;
    this.signalGroup('SIGKILL');
  }

  signalGroup(signal: NodeJS.Signals): void {
    const pid = this.pid;
    if (!pid || this.state === 'exited') return;
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        process.kill(pid, signal);
      } catch {
        /* already gone */
      }
    }
  }

  private drained(): Promise<void> {
    if (this.inflight.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.inflight.size === 0 || this.state === 'exited') {
          this.off('idle', check);
          this.off('exit', check);
          resolve();
        }
      };
      this.on('idle', check);
      this.on('exit', check);
    });
  }

  private onReady(info: ReadyInfo): void {
    if (this.state !== 'starting') return;
    this.info = info;
    this.capacity = Math.max(1, info.threads || 1);
    this.readyAt = Date.now();
    this.state = 'ready';
    this.logger.log('info', this.id, `ready (pid ${this.pid}, ${info.tools.length} tools from ${info.module}, python ${info.python}) in ${this.readyAt - this.startedAt} ms`);
    this.emit('ready', info);
  }

  private onFrame(callId: number, kind: 'chunk' | 'result' | 'end', value: EncodedValue | null): void {
    if (kind === 'chunk') {
      this.inflight.get(callId)?.chunk(value!);
      return;
    }
    const sink = this.settle(callId);
    if (!sink) return;
    if (kind === 'result') sink.result(value!);
    else sink.end();
  }

  /** Removes a finished call and frees its capacity. */
  private settle(callId: number): CallSink | undefined {
    const sink = this.inflight.get(callId);
    if (!sink) return undefined;
    this.inflight.delete(callId);
    if (this.state === 'busy' && this.inflight.size < this.capacity) this.state = 'ready';
    queueMicrotask(() => this.emit('idle'));
    return sink;
  }

  private onChannelFailed(err: Error): void {
    if (this.state === 'stopping') {
      // SHUTDOWN was sent (a recycle, a drain, the agent's stop): a pipe that breaks now is the
      // worker leaving, and stop() escalates to signals by itself if it does not leave in time.
      this.logger.log('debug', this.id, `channel closed while stopping: ${err.message}`);
      return;
    }
    const message = `worker protocol failed: ${err.message}`;
    // Frames after the bad one are not read: which calls finished is no longer known.
    this.answersComplete = false;
    this.logger.log('error', this.id, `${message}; killing the worker`);
    this.kill(message);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): WorkerExit {
    clearTimeout(this.stackTimer);
    const duringStartup = this.state === 'starting';
    const expected = this.expectedExit;
    this.state = 'exited';
    this.channel.close();
    const exit: WorkerExit = {
      code,
      signal,
      duringStartup,
      expected,
      stderrTail: this.stderrTail.join('\n'),
      reason: this.failure,
      startTimedOut: this.startTimedOut,
      stuck: this.stuck,
    };
    const how = describeExit(code, signal);
    const note = this.failure ?? (expected ? this.stopReason : undefined);
    this.logger.log(expected ? 'info' : 'warn', this.id, `${how}${note ? ` (${note})` : ''}`);
    const crash: ErrorInfo = {
      code: 'WORKER_CRASHED',
      message: `worker ${this.id} (pid ${this.pid}) ${how} while running the call${this.failure ? `: ${this.failure}` : ''}`,
    };
    const { mayHaveStarted, neverStarted } = splitUnanswered([...this.inflight.values()], this.capacity, this.answersComplete);
    this.inflight.clear();
    for (const sink of mayHaveStarted) sink.error(crash);
    const notRun: ErrorInfo = { code: 'WORKER_CRASHED', message: `worker ${this.id} (pid ${this.pid}) ${how} before it started the call` };
    for (const sink of neverStarted) sink.neverStarted(notRun);
    this.emit('exit', exit);
    return exit;
  }

  /** Logs what the worker prints, line by line; over-long lines are cut (see log-lines.ts). */
  private pipeLines(stream: Readable, name: 'stdout' | 'stderr'): void {
    const lines = new LineSplitter(this.spec.logLineMaxBytes);
    stream.on('data', (chunk: Buffer) => {
      for (const l of lines.push(chunk)) this.line(name, l.continued ? `… ${l.text}` : l.text);
    });
    stream.on('end', () => {
      for (const l of lines.end()) this.line(name, l.continued ? `… ${l.text}` : l.text);
    });
  }

  private line(name: 'stdout' | 'stderr', line: string): void {
    if (name === 'stderr' && this.stackLines) {
      // A stack dump: read by killUnready, kept out of the stderr tail (that shows what came before).
      if (this.stackLines.length < MAX_STACK_LINES) this.stackLines.push(line);
    } else if (name === 'stderr') {
      this.stderrTail.push(line);
      if (this.stderrTail.length > this.spec.stderrTailLines) this.stderrTail.shift();
    }
    this.logger.log(name === 'stderr' ? 'warn' : 'info', `${this.id} ${name}`, line, { worker: this.id, stream: name });
  }
}

/**
 * Longest wait, after a worker exited, for the rest of its output (its channel's end). It ends at
 * once unless a process the worker forked still holds the pipe; past this, unanswered calls all
 * count as possibly started.
 */
const DRAIN_AFTER_EXIT_MS = 500;

/** Lines of a stack dump read (all threads of a worker; a deep stack is ~100 lines). */
const MAX_STACK_LINES = 2_000;

/** How a worker ended: "signal SIGKILL", "code 3", or that spawn() failed (no process, no code). */
export function exitCause(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `signal ${signal}`;
  if (code !== null) return `code ${code}`;
  return 'no process (spawn failed)';
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return code === null && signal === null ? 'could not be started' : `exited with ${exitCause(code, signal)}`;
}

/** True when spawn() gave the child every pipe it was asked for (it does not when out of fds). */
function hasPipes(child: ChildProcess, count: number): boolean {
  // Out of fds, `stdio` itself is missing.
  for (let i = 0; i < count; i++) if (!child.stdio?.[i]) return false;
  return true;
}

/**
 * Waits for `p` at most `ms`; true when `p` settled first. The timer is cleared as soon as `p`
 * wins and is not unref'd: a stop in progress keeps the process alive until workers are gone.
 */
function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([p.then(() => true), timeout]).finally(() => clearTimeout(timer));
}
