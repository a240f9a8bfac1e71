// The default WorkerChannel: length-prefixed frames on pipes. Agent → worker on the worker's
// fd 3 (CALL, SHUTDOWN), worker → agent on its fd 4, and a control pipe on fd 5 (PING, CANCEL)
// that a control thread in the worker reads while the main thread runs calls inline. Writes
// issued in one tick are corked and leave in one syscall; reads are parsed by FrameDecoder.
import type { Readable, Writable } from 'node:stream';
import type { Socket } from 'node:net';
import { SnakepitError } from '../errors.js';
import { FrameDecoder, FrameKind, encodeFrame, type Frame } from '../protocol/frames.js';
import type { EncodedValue } from '../protocol/values.js';
import type { CallFrame, ReadyInfo, WorkerChannel, WorkerChannelEvents, WorkerTransport } from './channel.js';

const EMPTY = Buffer.alloc(0);
/**
 * How long a worker whose input pipes broke (ECONNRESET / EPIPE: its end is closed) may take to
 * exit before the channel counts as failed. A worker that exits leaves such errors behind
 * whenever agent frames were still unread in its pipe (e.g. a SHUTDOWN behind a stubborn call).
 */
const EXIT_AFTER_DISCONNECT_MS = 1_000;

export class PipeChannel implements WorkerChannel {
  private readonly decoder: FrameDecoder;
  private corked = false;
  private closed = false;
  /** The worker's input side is gone: writes are dropped, its answers are still read. */
  private disconnected = false;
  private failTimer: NodeJS.Timeout | undefined;
  readonly ended: Promise<void>;

  constructor(
    private readonly out: Writable,
    private readonly input: Readable,
    private readonly events: WorkerChannelEvents,
    maxFrameBytes: number,
    /** The control pipe; without it PING and CANCEL share fd 3 (older workers). */
    private readonly control: Writable = out,
  ) {
    this.decoder = new FrameDecoder(maxFrameBytes);
    this.ended = new Promise((resolve) => {
      if (input.readableEnded || input.destroyed) resolve();
      else input.once('close', () => resolve());
    });
    input.on('data', (chunk: Buffer) => this.onData(chunk));
    input.on('error', (err) => this.fail(err));
    out.on('error', (err) => this.onWriteSideError(err));
    if (control !== out) control.on('error', (err) => this.onWriteSideError(err));
    (out as Socket).setNoDelay?.(true);
  }

  send(call: CallFrame): void {
    const head = Buffer.from(JSON.stringify({ tool: call.tool, session: call.session, timeoutMs: call.timeoutMs }));
    this.write(encodeFrame(FrameKind.CALL, call.id, head, call.args.json, call.args.blobs));
  }

  cancel(id: number): void {
    this.writeControl(encodeFrame(FrameKind.CANCEL, id));
  }

  ping(seq: number): void {
    this.writeControl(encodeFrame(FrameKind.PING, seq));
  }

  shutdown(): void {
    this.write(encodeFrame(FrameKind.SHUTDOWN, 0));
  }

  close(): void {
    clearTimeout(this.failTimer);
    this.closed = true;
    this.input.removeAllListeners('data');
    this.input.destroy();
    this.out.destroy();
    this.control.destroy();
  }

  private writeControl(parts: Buffer[]): void {
    if (this.control === this.out) return this.write(parts);
    if (this.closed || this.disconnected || this.control.destroyed) return;
    for (const p of parts) this.control.write(p);
  }

  private write(parts: Buffer[]): void {
    if (this.closed || this.disconnected || this.out.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.out.cork();
      process.nextTick(() => {
        this.corked = false;
        this.out.uncork();
      });
    }
    for (const p of parts) this.out.write(p);
  }

  private onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    for (const f of frames) {
      try {
        this.dispatch(f);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
    }
  }

  private dispatch(f: Frame): void {
    switch (f.kind) {
      case FrameKind.RESULT:
        this.events.frame(f.id, 'result', value(f));
        return;
      case FrameKind.CHUNK:
        this.events.frame(f.id, 'chunk', value(f));
        return;
      case FrameKind.END:
        this.events.frame(f.id, 'end', null);
        return;
      case FrameKind.ERROR: {
        const info = parseJson(f.payload, 'error payload') as { code?: unknown; message?: unknown; type?: unknown; traceback?: unknown };
        this.events.callError(f.id, {
          code: typeof info.code === 'string' ? info.code : 'PYTHON_EXCEPTION',
          message: typeof info.message === 'string' ? info.message : String(info.message),
          ...(typeof info.type === 'string' ? { type: info.type } : {}),
          ...(typeof info.traceback === 'string' ? { traceback: info.traceback } : {}),
        });
        return;
      }
      case FrameKind.PONG:
        this.events.pong(f.id);
        return;
      case FrameKind.LOG: {
        const head = f.head.length ? (parseJson(f.head, 'log head') as { level?: string; logger?: string }) : {};
        const msg = f.payload.length ? parseJson(f.payload, 'log payload') : '';
        this.events.log({ level: head.level ?? 'info', logger: head.logger ?? 'tool', message: typeof msg === 'string' ? msg : JSON.stringify(msg), callId: f.id });
        return;
      }
      case FrameKind.READY:
        this.events.ready(parseJson(f.payload, 'ready payload') as ReadyInfo);
        return;
      default:
        throw new SnakepitError('PROTOCOL_ERROR', `malformed frame: unknown kind ${f.kind} from worker`);
    }
  }

  /**
   * An error on a pipe towards the worker. ECONNRESET / EPIPE mean the worker closed its end,
   * which it does by exiting: stop writing but keep reading its answers (they tell the agent
   * which calls finished), and fail only if the process lingers on without its input.
   */
  private onWriteSideError(err: NodeJS.ErrnoException): void {
    if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') return this.fail(err);
    if (this.closed || this.disconnected) return;
    this.disconnected = true;
    this.failTimer = setTimeout(() => this.fail(err), EXIT_AFTER_DISCONNECT_MS);
    this.failTimer.unref();
  }

  private fail(err: Error): void {
    clearTimeout(this.failTimer);
    if (this.closed) return;
    this.closed = true;
    this.input.removeAllListeners('data');
    this.events.failed(err);
  }
}

function value(f: Frame): EncodedValue {
  return { json: f.payload.length ? f.payload : EMPTY, blobs: f.blobs };
}

function parseJson(buf: Buffer, what: string): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch {
    throw new SnakepitError('PROTOCOL_ERROR', `malformed frame: ${what} is not valid JSON`);
  }
}

/** The default transport: frames on the worker's fds 3 (calls), 4 (answers) and 5 (control). */
export const pipeTransport: WorkerTransport = {
  name: 'pipe',
  prepare: () => ({ args: [], env: {}, extraPipes: 3 }),
  open: (child, _prepared, events, maxFrameBytes) =>
    new PipeChannel(child.stdio[3] as Writable, child.stdio[4] as Readable, events, maxFrameBytes, (child.stdio as unknown as Writable[])[5]),
};
