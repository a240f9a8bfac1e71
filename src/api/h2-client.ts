// The hot path of the Agent API client: one long-lived `Exchange` stream, calls multiplexed by
// id, everything queued in one tick sent as one batch. It runs over gRPC (Node's built-in http2)
// for an address, or over the home's local lane socket (the same messages without HTTP/2, see
// local-lane.ts). No grpc-js or protobufjs is loaded (the codec is agent-codec.ts), so `snakepit exec` starts
// about as fast as Node. The connection is unref'd while no call is pending, so an idle client
// never holds a process open.
import type { ClientHttp2Session, ClientHttp2Stream } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import type { ClientSecurity } from '../security/client.js';
import { h2Session } from './h2-session.js';
import { SnakepitError, type ErrorInfo } from '../errors.js';
import type { CallSink } from '../worker/channel.js';
import { DEFAULTS } from '../defaults.js';
import { MessageReader } from './grpc-frame.js';
import { errorFromHeaders, errorFromTransport } from './status.js';
import { decodeServerBatch, encodeClientBatch, type WireCall } from './agent-codec.js';

const PATH = '/snakepit.v1.Agent/Exchange';

export interface ExchangeOptions {
  /** `unix:/path.sock` or `host:port` (gRPC over HTTP/2), or `lane:/path.sock` (the local lane). */
  address: string;
  /** Builds the error for "nobody answers at this address" (says how to start an agent). */
  noAgent: () => SnakepitError;
  /** Extra time past a call's own timeout before the client gives up on the agent, ms. */
  deadlineSlackMs: number;
  /** Largest reply message accepted from the agent. */
  maxMessageBytes: number;
  /** TLS and the token for a TCP address (security/client.ts decides plaintext or TLS). */
  security?: ClientSecurity | undefined;
}

/** A call in flight: what its replies go to, and (as its CallControl) how to cancel it. */
class Pending {
  timer: NodeJS.Timeout | undefined = undefined;
  /** Written to a connected stream: the agent may have it. Until then a failure is `unsent`. */
  sent = false;

  constructor(
    private readonly client: ExchangeClient,
    readonly id: number,
    readonly sink: CallSink,
  ) {}

  cancel(): void {
    this.client.cancel(this);
  }
}

const NOT_STARTED: { cancel(): void } = { cancel() {} };

export class ExchangeClient {
  private session: ClientHttp2Session | undefined;
  /** Headers of the session's requests (the token), and whether it is plaintext TCP (a TLS agent hangs up on it). */
  private headers: Record<string, string> = {};
  private plainTcp = false;
  private stream: ClientHttp2Stream | Socket | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private outCalls: WireCall[] = [];
  private outCancels: number[] = [];
  private flushScheduled = false;
  private reader: MessageReader;
  private closed = false;
  /** The current stream's connection is up (written data reaches the agent). */
  private connected = false;
  /** Calls written while the connection was still being made: sent once it is up. */
  private written: number[] = [];
  /** The current stream got response headers. */
  private responded = false;

  constructor(private readonly opts: ExchangeOptions) {
    this.reader = new MessageReader(opts.maxMessageBytes);
  }

  /** Starts a call (its `id` is assigned here; the object is kept until it is written); returns how to cancel it. */
  start(call: WireCall, sink: CallSink): { cancel(): void } {
    if (this.closed) {
      queueMicrotask(() => sink.error({ code: 'UNAVAILABLE', message: 'client is closed' }));
      return NOT_STARTED;
    }
    const id = this.nextId;
    this.nextId = this.nextId >= 0xfffffff0 ? 1 : this.nextId + 1;
    const pending = new Pending(this, id, sink);
    // Past the longest timer Node can hold, the agent's own TIMEOUT is the only deadline.
    const waitMs = call.timeoutMs ? call.timeoutMs + this.opts.deadlineSlackMs : 0;
    if (waitMs && waitMs <= DEFAULTS.maxTimeoutMs) pending.timer = setTimeout(() => this.fail(id, { code: 'TIMEOUT', message: `the agent did not answer within ${waitMs} ms` }), waitMs);
    if (this.pending.size === 0) this.ref();
    this.pending.set(id, pending);
    call.id = id;
    this.outCalls.push(call);
    this.schedule();
    return pending;
  }

  /** Cancels a call still in flight (the agent is told). @internal (Pending.cancel) */
  cancel(pending: Pending): void {
    if (this.pending.get(pending.id) !== pending) return;
    this.finish(pending.id);
    this.outCancels.push(pending.id);
    this.schedule();
  }

  close(): void {
    this.closed = true;
    this.failAll({ code: 'CANCELLED', message: 'client closed' });
    if (this.stream && 'session' in this.stream) this.stream.close();
    else this.stream?.destroy();
    this.session?.close();
    this.session = undefined;
    this.stream = undefined;
  }

  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.outCalls.length === 0 && this.outCancels.length === 0) return;
    const stream = this.ensureStream();
    if (!stream) return;
    const calls = this.outCalls;
    const cancels = this.outCancels;
    this.outCalls = [];
    this.outCancels = [];
    stream.write(encodeClientBatch(calls, cancels));
    for (const c of calls) {
      if (this.connected) this.markSent(c.id);
      else this.written.push(c.id);
    }
  }

  private markSent(id: number): void {
    const p = this.pending.get(id);
    if (p) p.sent = true;
  }

  /** The connection is up: what was written before it goes out now. */
  private onConnected(): void {
    this.connected = true;
    for (const id of this.written) this.markSent(id);
    this.written = [];
  }

  private ensureStream(): ClientHttp2Stream | Socket | undefined {
    if (this.stream && !this.stream.destroyed) return this.stream;
    if (this.opts.address.startsWith('lane:')) return this.openLane(this.opts.address.slice('lane:'.length));
    const { constants } = process.getBuiltinModule('node:http2') as typeof import('node:http2');
    if (!this.session || this.session.destroyed || this.session.closed) {
      const target = h2Session(this.opts.address, this.opts.security);
      const session = target.session;
      this.headers = target.headers;
      this.plainTcp = !target.tls && !this.opts.address.startsWith('unix:');
      session.on('error', (err: NodeJS.ErrnoException) => this.onTransportError(err));
      session.once('connect', () => {
        if (this.session === session) this.onConnected();
      });
      session.on('close', () => {
        if (this.session === session) this.session = undefined;
      });
      this.session = session;
    }
    const stream = this.session.request({
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: PATH,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...this.headers,
    });
    stream.on('trailers', (trailers) => this.onStatus(stream, trailers));
    stream.on('response', (headers) => {
      this.responded = true;
      // A trailers-only response (an immediate error, e.g. UNAUTHENTICATED) carries its status in the headers.
      if (headers['grpc-status'] !== undefined) this.onStatus(stream, headers);
    });
    return this.adopt(stream);
  }

  private openLane(path: string): Socket {
    const socket = netConnect(path);
    socket.setNoDelay(true);
    socket.once('connect', () => {
      if (this.stream === socket) this.onConnected();
    });
    return this.adopt(socket);
  }

  /** Makes `stream` (an HTTP/2 stream or a lane socket) the one replies are read from. */
  private adopt<S extends ClientHttp2Stream | Socket>(stream: S): S {
    this.reader = new MessageReader(this.opts.maxMessageBytes);
    // A new HTTP/2 stream on a session that is up is connected already; a new socket is not.
    this.connected = 'session' in stream ? !!this.session && !this.session.connecting : false;
    this.written = [];
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    this.responded = false;
    stream.on('close', () => {
      // An old stream's calls were failed when it was dropped; the current one's are failed now.
      if (this.stream !== stream) return;
      this.stream = undefined;
      // A TLS listener hangs up on a plaintext client without a word: say what may be missing.
      const hint = this.plainTcp && !this.responded ? ` at ${this.opts.address} before answering (if it serves TLS, pass --tls-ca FILE or SNAKEPIT_TLS_CA)` : '';
      this.failAll({ code: 'AGENT_UNAVAILABLE', message: `the agent closed the connection${hint}` });
    });
    stream.on('error', (err: NodeJS.ErrnoException) => this.onTransportError(err));
    this.stream = stream;
    return stream;
  }

  private onData(chunk: Buffer): void {
    let bodies: Buffer[];
    try {
      bodies = this.reader.push(chunk);
    } catch (err) {
      this.protocolFailure((err as Error).message);
      return;
    }
    for (const message of bodies) {
      let replies;
      try {
        replies = decodeServerBatch(message);
      } catch (err) {
        this.protocolFailure((err as Error).message);
        return;
      }
      for (const r of replies) {
        const p = this.pending.get(r.id);
        if (!p) continue;
        if (r.kind === 'chunk') p.sink.chunk(r.value);
        else {
          this.finish(r.id);
          if (r.kind === 'end') p.sink.end();
          else if (r.kind === 'error') p.sink.error(r.error);
          else p.sink.result(r.value);
        }
      }
    }
  }

  private protocolFailure(why: string): void {
    this.failAll({ code: 'PROTOCOL_ERROR', message: `malformed reply from the agent: ${why}` });
    this.stream?.destroy();
  }

  /**
   * The agent ended the Exchange stream with a status: it answers nothing more on it, so its
   * calls fail (with the status's error) and the stream is dropped, so the next call opens a new
   * one (our side would otherwise stay open, and calls written to it would wait forever).
   */
  private onStatus(stream: ClientHttp2Stream, h: Record<string, string | string[] | number | undefined>): void {
    if (this.stream !== stream) return;
    const error = errorFromHeaders(h, this.opts.noAgent);
    this.stream = undefined;
    this.failAll(error ? error.toJSON() : { code: 'AGENT_UNAVAILABLE', message: 'the agent ended the connection' });
    stream.close();
  }

  private onTransportError(err: NodeJS.ErrnoException): void {
    this.failAll(errorFromTransport(err, this.opts.noAgent, this.opts.address).toJSON());
    this.session?.destroy();
    if (this.stream && !('session' in this.stream)) this.stream.destroy();
    this.session = undefined;
    this.stream = undefined;
  }

  private finish(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(id);
    if (this.pending.size === 0) this.unref();
  }

  private ref(): void {
    this.session?.ref();
    if (this.stream && !('session' in this.stream)) (this.stream as Socket).ref();
  }

  private unref(): void {
    this.session?.unref();
    if (this.stream && 'unref' in this.stream && !('session' in this.stream)) (this.stream as Socket).unref();
  }

  private fail(id: number, error: ErrorInfo): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.finish(id);
    this.outCancels.push(id);
    this.schedule();
    p.sink.error(error);
  }

  private failAll(error: ErrorInfo): void {
    const all = [...this.pending.entries()];
    for (const [id] of all) this.finish(id);
    this.outCalls = [];
    this.connected = false;
    const unsent = { ...error, unsent: true };
    for (const [, p] of all) p.sink.error(p.sent ? error : unsent);
  }
}
