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
import type { CallFrame, CallSink, ReadyInfo, WorkerChannel } from '../worker/channel.js';
import { transportFor, type TransportName } from '../worker/transports.js';
import { logLevel, type AgentLogger } from './log.js';
import { rssBytes } from '../proc.js';
import { containWorker, removeCgroup, type ContainmentKind } from './containment.js';
import { Heartbeat } from './health.js';
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
  /** Process start time (/proc/PID/stat field 22), set by the pool at spawn. */
  startTime = 0;
  /** Recycle limits drawn for this worker (set by the pool). */
  limits: RecycleLimits = { requests: 0, ttlMs: 0 };
  private readonly inflight = new Map<number, CallSink>();
  private readonly child: ChildProcess;
  private readonly channel: WorkerChannel;
  private readonly stderrTail: string[] = [];
  private failure: string | undefined;
  private expectedExit = false;
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
    const prepared = transport.prepare(id);
    const args = ['-m', 'snakepit', ...prepared.args];
    if (spec.tools) args.push('--tools', spec.tools);
    if (spec.threads > 1) args.push('--threads', String(spec.threads));
    this.cmdline = [spec.python, ...args];
    const pythonPath = [spec.runtimeDir, spec.env.PYTHONPATH ?? process.env.PYTHONPATH].filter(Boolean).join(':');
    const contain = containWorker(spec.runId, id);
    if (contain.warning) logger.log('warn', id, contain.warning);
    this.contained = { containment: contain.kind, ...(contain.cgroup ? { cgroup: contain.cgroup } : {}) };
    this.child = spawn(spec.python, args, {
      cwd: spec.cwd,
      env: {
        ...process.env,
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
    if (this.child.pid === undefined && contain.cgroup) removeCgroup(contain.cgroup); // it joins by itself
    let finish!: (exit: WorkerExit) => void;
    this.exited = new Promise((resolve) => (finish = resolve));
    let finished = false;
    const done = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (finished) return;
      finished = true;
      finish(this.onExit(code, signal));
    };
    this.child.once('exit', (code, signal) => {
      // Frames the worker wrote just before dying may still be in transit: read them first
      // (bounded, in case a tool's own child inherited the channel).
      void within(this.channel.ended, 100).then(() => done(code, signal));
    });
    this.child.once('error', (err) => {
      this.failure = `could not start ${spec.python}: ${err.message}`;
      this.logger.log('error', id, this.failure);
      if (this.child.pid === undefined) done(null, null);
    });
    this.child.stdin!.on('error', () => {});
    this.pipeLines(this.child.stdout!, 'stdout');
    this.pipeLines(this.child.stderr!, 'stderr');
    this.channel = transport.open(this.child, prepared, {
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
    return this.child.pid;
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
  run(call: CallFrame, sink: CallSink): void {
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

  /** Resident set size of the Python process itself, from /proc (0 when unknown). */
  rssBytes(): number {
    if (!this.child.pid || this.state === 'exited') return 0;
    return rssBytes(this.child.pid);
  }

  /**
   * Stops the worker: no new calls, in-flight calls get `graceMs` to finish, then SHUTDOWN and
   * stdin EOF, then SIGTERM to the process group, then SIGKILL after `killGraceMs`.
   */
  async stop(graceMs: number, killGraceMs: number): Promise<WorkerExit> {
    if (this.state === 'exited') return this.exited;
    this.expectedExit = true;
    if (this.state !== 'stopping') {
      this.state = 'draining';
      if (this.inflight.size > 0) await within(this.drained(), graceMs);
      this.state = 'stopping';
      this.channel.shutdown();
      this.child.stdin?.end();
    }
    if (await within(this.exited, killGraceMs)) return this.exited;
    this.signalGroup('SIGTERM');
    if (await within(this.exited, killGraceMs)) return this.exited;
    this.signalGroup('SIGKILL');
    return this.exited;
  }

  /** Kills the process group at once (used when a worker is wedged or the agent must go now). */
  kill(reason: string): void {
    this.failure ??= reason;
    this.signalGroup('SIGKILL');
  }

  signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
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
    this.logger.log('info', this.id, `ready (pid ${this.child.pid}, ${info.tools.length} tools from ${info.module}, python ${info.python}) in ${this.readyAt - this.startedAt} ms`);
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
    const message = `worker protocol failed: ${err.message}`;
    this.logger.log('error', this.id, `${message}; killing the worker`);
    this.kill(message);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): WorkerExit {
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
    };
    const how = signal ? `signal ${signal}` : `code ${code}`;
    this.logger.log(expected ? 'info' : 'warn', this.id, `exited with ${how}${this.failure ? ` (${this.failure})` : ''}`);
    const crash: ErrorInfo = {
      code: 'WORKER_CRASHED',
      message: `worker ${this.id} (pid ${this.child.pid}) exited with ${how} while running the call${this.failure ? `: ${this.failure}` : ''}`,
    };
    const sinks = [...this.inflight.values()];
    this.inflight.clear();
    for (const sink of sinks) sink.error(crash);
    this.emit('exit', exit);
    return exit;
  }

  private pipeLines(stream: Readable, name: 'stdout' | 'stderr'): void {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (text: string) => {
      const lines = (rest + text).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) this.line(name, line);
    });
    stream.on('end', () => {
      if (rest) this.line(name, rest);
    });
  }

  private line(name: 'stdout' | 'stderr', line: string): void {
    if (name === 'stderr') {
      this.stderrTail.push(line);
      if (this.stderrTail.length > this.spec.stderrTailLines) this.stderrTail.shift();
    }
    this.logger.log(name === 'stderr' ? 'warn' : 'info', `${this.id} ${name}`, line, { worker: this.id, stream: name });
  }
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
