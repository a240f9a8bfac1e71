// One Exchange session: many calls multiplexed by id over one stream, whatever carries it (a gRPC
// stream or a local lane socket, each behind a ReplyPort). Calls arrive in batches and replies
// leave in batches: everything ready in the same turn of the event loop goes out as one message.
//
// Boundary rules (ARCHITECTURE.md, "Agent API"):
// - A call that is not well formed (no request, a field of the wrong kind) gets INVALID_ARGUMENTS;
//   the others in its batch run.
// - A half-close means "no more calls": every accepted call is still answered, then the stream ends.
// - Backpressure: while more than `replyBufferBytes` of replies sit unread by the peer, no new
//   calls are read from it, and a streaming call that produces another chunk fails with
//   SLOW_CONSUMER (its tool is cancelled: a worker's output pipe is shared, so one call's stream
//   cannot be paused). A peer holding a whole `maxPayloadBytes` more than that unread is dropped.
import type { AgentRequest } from '../agent/agent.js';
import type { AgentApi } from './agent-api.js';
import { RAW, labelRecord } from './agent-codec.js';
import type { CallControl } from '../agent/pool.js';
import type { ErrorInfo } from '../errors.js';
import type { EncodedValue } from '../protocol/values.js';
import type { WireClientBatch, WireError, WireExecuteRequest, WireReply } from './proto.js';

/** What a session needs of the stream that carries it. */
export interface ReplyPort {
  /** Sends one ServerBatch. */
  send(replies: WireReply[], bytes: number): void;
  /** Reply bytes sent and not yet taken by the peer. */
  backlog(): number;
  /** Stops / restarts reading calls from the peer. */
  pause(): void;
  resume(): void;
  /** Every reply owed after a half-close was sent: end the stream. */
  end(): void;
  /** The peer holds far too much unread: drop the connection. */
  abort(reason: string): void;
}

/** Replies ready in one turn go out together, up to about this many bytes per message. */
const FLUSH_BYTES = 256 * 1024;

export interface SessionLimits {
  replyBufferBytes: number;
  /** Backlog above which the peer is dropped. */
  abortBytes: number;
}

/** The parts of an agent a session drives (an Agent, and later a router, offer them). */
export type CallTarget = Pick<AgentApi, 'execute' | 'stream'>;

/** Wire → agent request; undefined when the call carries no request. */
export function toRequest(w: WireExecuteRequest | null | undefined): AgentRequest | undefined {
  if (!w) return undefined;
  return {
    tool: w.tool,
    args: { json: w.argsJson.length ? w.argsJson : Buffer.from('{}'), blobs: w.blobs },
    session: w.session || null,
    timeoutMs: w.timeoutMs || undefined,
    idempotent: w.idempotent,
    pool: w.pool || undefined,
    require: labelRecord(w.require),
    wire: (w as { [RAW]?: Buffer })[RAW],
  };
}

export function wireError(e: ErrorInfo): WireError {
  return { code: e.code, message: e.message, type: e.type ?? '', traceback: e.traceback ?? '', agent: e.agent ?? '' };
}

/** Approximate encoded size of a value (its bytes plus framing). */
export function valueBytes(v: EncodedValue): number {
  let n = v.json.length + 8;
  for (const b of v.blobs) n += b.length + 4;
  return n;
}

function replyBytes(r: WireReply): number {
  const v = r.result ?? r.chunk;
  if (v) return valueBytes(v) + 8;
  if (r.error) return r.error.message.length + r.error.traceback.length + r.error.code.length + 16;
  return 8;
}

export class ExchangeSession {
  private readonly controls = new Map<number, CallControl>();
  private outgoing: WireReply[] = [];
  private outgoingBytes = 0;
  private scheduled = false;
  private open = true;
  private halfClosed = false;
  private paused = false;

  constructor(
    private readonly agent: CallTarget,
    private readonly port: ReplyPort,
    private readonly limits: SessionLimits,
  ) {}

  onBatch(batch: WireClientBatch): void {
    if (!this.open || this.halfClosed) return;
    for (const c of batch.calls) this.start(c.id, c.request, c.stream);
    for (const id of batch.cancels) {
      this.controls.get(id)?.cancel();
      this.controls.delete(id);
    }
  }

  /** The peer sent its last call: answer what was accepted, then end the stream. */
  halfClose(): void {
    this.halfClosed = true;
    this.maybeEnd();
  }

  /** The port's backlog went down: read calls again once it is under the limit. */
  onDrain(): void {
    if (this.paused && this.port.backlog() <= this.limits.replyBufferBytes) {
      this.paused = false;
      this.port.resume();
    }
  }

  /** The peer went away or the server stops: cancel every call still running. */
  close(): void {
    if (!this.open) return;
    this.flush();
    this.open = false;
    for (const c of this.controls.values()) c.cancel();
    this.controls.clear();
  }

  get inFlight(): number {
    return this.controls.size;
  }

  private start(id: number, wire: WireExecuteRequest | null, stream: boolean): void {
    if (this.controls.has(id)) {
      this.push({ id, error: wireError({ code: 'INVALID_ARGUMENTS', message: `call id ${id} is already in flight on this stream` }) });
      return;
    }
    const req = toRequest(wire);
    if (!req) {
      this.push({ id, error: wireError({ code: 'INVALID_ARGUMENTS', message: 'call without a request' }) });
      return;
    }
    // A call can be refused synchronously (QUEUE_FULL, a bad request): it must not stay in the
    // table then, or a client sending many such calls grows it without bound.
    let settled = false;
    const settle = (last: WireReply): boolean => {
      if (settled) return false;
      settled = true;
      this.push(last);
      this.done(id);
      return true;
    };
    const control: CallControl = stream
      ? this.agent.stream(req, {
          chunk: (v) => {
            if (settled) return;
            if (!this.backlogged()) return this.push({ id, chunk: v });
            // The stream cannot be paused in its worker: end it here, and stop the tool.
            settle({ id, error: wireError({ code: 'SLOW_CONSUMER', message: `the client left more than ${this.limits.replyBufferBytes} bytes of replies unread (replyBufferBytes); the streaming call was cancelled` }) });
            control.cancel();
          },
          result: (v) => {
            if (settled) return;
            this.push({ id, chunk: v });
            settle({ id, end: true });
          },
          end: () => settle({ id, end: true }),
          error: (e) => settle({ id, error: wireError(e) }),
        })
      : this.agent.execute(req, (error, value) => settle(error ? { id, error: wireError(error) } : { id, result: value! }));
    if (!settled) this.controls.set(id, control);
  }

  private backlogged(): boolean {
    return this.port.backlog() + this.outgoingBytes > this.limits.replyBufferBytes;
  }

  private done(id: number): void {
    if (this.controls.delete(id)) this.maybeEnd();
  }

  private maybeEnd(): void {
    if (this.halfClosed && this.open && this.controls.size === 0) {
      // The last replies go out first (flush is scheduled with setImmediate, so is this).
      setImmediate(() => {
        if (!this.open || this.controls.size > 0) return;
        this.flush();
        this.open = false;
        this.port.end();
      });
    }
  }

  private push(reply: WireReply): void {
    if (!this.open) return;
    this.outgoing.push(reply);
    this.outgoingBytes += replyBytes(reply);
    // A burst (thousands of calls refused in one batch) goes out in pieces, not as one message.
    if (this.outgoingBytes >= FLUSH_BYTES) return this.flush();
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  private flush(): void {
    if (!this.open || this.outgoing.length === 0) return;
    const replies = this.outgoing;
    const bytes = this.outgoingBytes;
    this.outgoing = [];
    this.outgoingBytes = 0;
    this.port.send(replies, bytes);
    const backlog = this.port.backlog();
    if (backlog > this.limits.abortBytes) {
      this.port.abort(`the client left ${backlog} bytes of replies unread`);
      this.close();
      return;
    }
    if (!this.paused && backlog > this.limits.replyBufferBytes) {
      this.paused = true;
      this.port.pause();
    }
  }
}
