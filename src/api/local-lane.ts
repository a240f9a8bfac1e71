// The local lane: the Agent API's Exchange stream served directly on a unix socket in the home
// (mode 0600, like the gRPC socket), without HTTP/2. Same messages (ClientBatch / ServerBatch),
// the same codec as the gRPC server, the same 5-byte gRPC message prefix, the same semantics;
// only the HTTP/2 layer is left out. Loading node:http2 and its handshake cost a CLI call ~25 ms,
// most of `snakepit exec`'s budget, so local clients use this lane; gRPC over HTTP/2 stays the
// API for addresses and TCP.
//
// What a peer can make the lane hold is bounded: a message longer than the limit closes the
// connection before anything of it is buffered; partly received messages of all connections
// together stay within `inboundBufferBytes` (a message is admitted whole, by the length in its
// prefix; one that does not fit waits with its connection paused); a partial message that makes
// no progress for `stalledMessageMs` closes its connection; replies follow the Exchange session's
// backpressure rules. A malformed message closes the connection (the lane has no status to send).
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { AgentApi } from './agent-api.js';
import { DEFAULTS } from '../defaults.js';
import { decodeMessage, encodeFramed, encodeServerBatch } from './agent-codec.js';
import { ExchangeSession, type ReplyPort } from './exchange-session.js';
import { MessageReader, messagePrefix } from './grpc-frame.js';
import type { WireClientBatch } from './proto.js';

export interface LocalLane {
  close(): Promise<void>;
}

export interface LaneLimits {
  /** Largest message body accepted. */
  maxMessageBytes: number;
  /** Partly received bytes held across all connections (at least one whole message). */
  inboundBufferBytes: number;
  stalledMessageMs: number;
  replyBufferBytes: number;
}

/** Messages this small are never held back: each connection can hold one of them at most. */
const SMALL_MESSAGE_BYTES = 64 * 1024;
/** A ServerBatch with no replies: the 5-byte prefix of an empty message. */
const EMPTY_BATCH = messagePrefix(0);
/** How often a half-closed connection with calls in flight is checked for a peer that is gone, ms. */
const HALF_CLOSED_PROBE_MS = 1_000;

/**
 * Admission of large partial messages across connections: a connection holds a grant for the
 * whole length its peer announced, or waits (paused) in FIFO order until enough is released.
 */
export class InboundBudget {
  private used = 0;
  private readonly waiting: Array<{ bytes: number; grant: () => void }> = [];

  constructor(readonly limit: number) {}

  /** Grants `bytes` now (true) or queues `grant` for later (false). */
  request(bytes: number, grant: () => void): boolean {
    if (this.waiting.length === 0 && this.used + bytes <= this.limit) {
      this.used += bytes;
      return true;
    }
    this.waiting.push({ bytes, grant });
    return false;
  }

  release(bytes: number): void {
    this.used -= bytes;
    while (this.waiting.length > 0 && this.used + this.waiting[0]!.bytes <= this.limit) {
      const next = this.waiting.shift()!;
      this.used += next.bytes;
      next.grant();
    }
  }

  /** A waiting connection went away. */
  cancel(grant: () => void): void {
    const i = this.waiting.findIndex((w) => w.grant === grant);
    if (i >= 0) this.waiting.splice(i, 1);
    this.release(0);
  }

  get held(): number {
    return this.used;
  }
}

export async function serveLocalLane(agent: AgentApi, socketPath: string, maxMessageBytes: number, overrides: Partial<LaneLimits> = {}): Promise<LocalLane> {
  const limits: LaneLimits = {
    maxMessageBytes,
    inboundBufferBytes: Math.max(DEFAULTS.inboundBufferBytes, maxMessageBytes),
    stalledMessageMs: DEFAULTS.stalledMessageMs,
    replyBufferBytes: DEFAULTS.replyBufferBytes,
    ...overrides,
  };
  rmSync(socketPath, { force: true });
  const sockets = new Set<Socket>();
  const budget = new InboundBudget(limits.inboundBufferBytes);
  // allowHalfOpen: a client that ends its side ("no more calls") still gets every reply.
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.setNoDelay?.(true);
    serveConnection(agent, socket, limits, budget, () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  chmodSync(socketPath, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.end();
        server.close(() => resolve());
        setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, 1_000).unref();
        rmSync(socketPath, { force: true });
      }),
  };
}

function serveConnection(agent: AgentApi, socket: Socket, limits: LaneLimits, budget: InboundBudget, onGone: () => void): void {
  const reader = new MessageReader(limits.maxMessageBytes);
  // Two reasons to stop reading: replies pile up unread, or a large message waits for budget.
  const holds = new Set<'replies' | 'budget'>();
  const hold = (why: 'replies' | 'budget', on: boolean): void => {
    if (on) holds.add(why);
    else holds.delete(why);
    if (holds.size > 0) socket.pause();
    else if (!socket.destroyed) socket.resume();
    stallWatch();
  };
  let granted = 0;
  const onGrant = (): void => {
    granted = reader.announced;
    hold('budget', false);
  };
  const port: ReplyPort = {
    send: (replies) => {
      if (socket.destroyed || !socket.writable) return;
      socket.write(encodeServerBatch(replies));
    },
    backlog: () => socket.writableLength,
    pause: () => hold('replies', true),
    resume: () => hold('replies', false),
    end: () => socket.end(),
    abort: () => socket.destroy(),
  };
  const session = new ExchangeSession(agent, port, { replyBufferBytes: limits.replyBufferBytes, abortBytes: limits.replyBufferBytes + limits.maxMessageBytes });
  // A partial message must keep arriving (while we are not the ones holding it back).
  const stallWatch = (): void => {
    const partial = reader.pending > 0 || reader.announced >= 0;
    socket.setTimeout(partial && holds.size === 0 ? limits.stalledMessageMs : 0);
  };
  socket.on('timeout', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    let bodies: Buffer[];
    try {
      bodies = reader.push(chunk);
    } catch {
      socket.destroy(); // oversized or compressed: the stream cannot be resynchronised
      return;
    }
    if (bodies.length > 0 && granted > 0) {
      budget.release(granted);
      granted = 0;
    }
    for (const body of bodies) {
      let batch: WireClientBatch;
      try {
        batch = decodeMessage<WireClientBatch>('ClientBatch', body);
      } catch {
        socket.destroy();
        return;
      }
      session.onBatch(batch);
    }
    const want = reader.announced;
    if (want >= SMALL_MESSAGE_BYTES && granted === 0 && !holds.has('budget')) {
      if (budget.request(want, onGrant)) granted = want;
      else hold('budget', true);
    }
    stallWatch();
  });
  socket.on('drain', () => session.onDrain());
  // On a unix socket a peer that half-closed ("no more calls") and one that is gone both read as
  // 'end'. An empty batch (which clients ignore) tells them apart: writing to a gone peer fails
  // with EPIPE, which closes the connection and cancels its calls, as a dropped client's must be.
  let probe: NodeJS.Timeout | undefined;
  const ping = (): void => {
    if (session.inFlight > 0 && socket.writable) socket.write(EMPTY_BATCH);
  };
  socket.on('end', () => {
    session.halfClose();
    ping();
    probe = setInterval(ping, HALF_CLOSED_PROBE_MS);
  });
  const close = (): void => {
    clearInterval(probe);
    onGone();
    session.close();
    if (holds.has('budget')) budget.cancel(onGrant);
    if (granted > 0) budget.release(granted);
    granted = 0;
  };
  socket.on('close', close);
  socket.on('error', () => socket.destroy());
}
