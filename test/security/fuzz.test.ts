// Fuzzing the Agent API's two sockets (issue 8, item 5): at least 10,000 random and
// mutated-valid messages each to the local lane and to the gRPC socket (Exchange streams, unary
// calls, server streams, the health service), from a seeded generator (SNAKEPIT_FUZZ_SEED to
// replay one run). Afterwards the same agent process still serves calls and its resident memory
// stayed bounded. Every message is well framed (so it reaches the decoder); what is inside is
// not. Methods that change the agent's state (Shutdown, Drain, Reload, RestartWorker) are left
// out: a mutation that happens to decode would be a legitimate request to stop.
import { describe, expect, it } from 'vitest';
import type { ClientHttp2Session } from 'node:http2';
import { decodeMessage, encodeMessage, type MessageName } from '../../src/api/agent-codec.js';
import { pidAlive } from '../helpers/env.js';
import { grpcMessage, h2Session, laneConnect, rawCall, rssMiB, useDaemon } from './raw-peer.js';

const PER_SOCKET = 10_000;
const SEED = Number(process.env.SNAKEPIT_FUZZ_SEED ?? 0x5eed);

/** mulberry32: small, seeded, good enough to pick mutations. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  private readonly r: () => number;
  constructor(seed: number) {
    this.r = rng(seed);
  }
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  /** Tools that answer at once (never `sleep`), unknown names, and names of the wrong shape. */
  tool(): string {
    return this.pick(['add', 'echo', 'greet', 'fail', 'whoami', 'counter', 'optional', 'tokens', 'stats', 'nope', '', 'ädd', 'a'.repeat(300)]);
  }
  args(): Buffer {
    return Buffer.from(
      this.pick([
        '{"a":1,"b":2}',
        '{"value":[1,{"x":"y"}]}',
        '{"name":"Ada","excited":true}',
        '{"text":"a b c"}',
        '{"values":[1.5,2]}',
        '{"a":"1"}',
        '{"value":{"$blob":3}}',
        '[1,2]',
        'not json',
        '',
        '{"a":1e999}',
        '{"x":null}',
      ]),
    );
  }
  request(): Record<string, unknown> {
    return {
      tool: this.tool(),
      argsJson: this.args(),
      blobs: this.int(4) === 0 ? [this.bytes(this.int(16))] : [],
      session: this.pick(['', '', 's1', `s${this.int(50)}`, 'x'.repeat(this.pick([10, 300, 5000]))]),
      timeoutMs: this.pick([0, 0, 5_000, 1, 2 ** 31, 0xffffffff]),
      idempotent: this.int(2) === 0,
      pool: this.pick(['', '', 'default', 'nope']),
    };
  }
  batch(): Buffer {
    const calls = Array.from({ length: 1 + this.int(4) }, () => ({ id: this.int(1000), request: this.int(10) === 0 ? null : this.request(), stream: this.int(3) === 0 }));
    return encodeMessage('ClientBatch', { calls, cancels: this.int(3) === 0 ? [this.int(1000)] : [] });
  }
  /** 1–3 mutations of a valid message: flips, inserts, deletions, truncation, varint bombs. */
  mutate(valid: Buffer): Buffer {
    let b = Buffer.from(valid);
    for (let n = 1 + this.int(3); n > 0; n--) {
      const at = this.int(b.length + 1);
      switch (this.int(6)) {
        case 0:
          if (b.length) b.writeUInt8(b[Math.min(at, b.length - 1)]! ^ (1 << this.int(8)), Math.min(at, b.length - 1));
          break;
        case 1:
          b = Buffer.concat([b.subarray(0, at), this.bytes(1 + this.int(8)), b.subarray(at)]);
          break;
        case 2:
          b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + this.int(8)))]);
          break;
        case 3:
          b = b.subarray(0, at);
          break;
        case 4:
          b = Buffer.concat([b.subarray(0, at), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), b.subarray(at)]);
          break;
        default:
          // A field's wire type swapped (the shape of the 17-byte message of the issue).
          if (b.length) b[Math.min(at, b.length - 1)] = (b[Math.min(at, b.length - 1)]! & 0xf8) | this.pick([0, 1, 2, 3, 4, 5, 6, 7]);
      }
    }
    return b;
  }
  /** A random, a valid, or (mostly) a mutated-valid body of message `name`. */
  body(name: MessageName, valid: () => Buffer): Buffer {
    const k = this.int(10);
    if (k === 0) return this.bytes(this.int(64));
    if (k === 1) return valid();
    return this.mutate(valid());
  }
}

/** Whether our decoder refuses `body` (then the peer closes the connection after it). */
function refused(name: MessageName, body: Buffer): boolean {
  try {
    decodeMessage(name, body);
    return false;
  } catch {
    return true;
  }
}

const peer = useDaemon(['--workers', '2'], { warmUpCalls: 100 });

async function stillServes(pid: number, rssBefore: number): Promise<void> {
  expect(pidAlive(pid)).toBe(true);
  expect(peer.daemon.pid).toBe(pid);
  expect(await peer.client.execute('add', { a: 20, b: 22 })).toBe(42);
  expect((await peer.client.stats()).agent.pid).toBe(pid);
  expect(rssMiB(pid) - rssBefore).toBeLessThan(100);
}

/** Runs `tasks` with at most `n` at a time. */
async function pool<T>(tasks: Array<() => Promise<T>>, n: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < tasks.length) await tasks[next++]!();
  }));
}

describe(`fuzzing the Agent API (seed ${SEED})`, () => {
  it(`survives ${PER_SOCKET} random and mutated messages on the local lane`, async () => {
    const g = new Gen(SEED);
    const before = rssMiB(peer.daemon.pid);
    // Messages go in groups: one connection per group, a refused message last in its group
    // (the lane closes the connection after it, so nothing after it would be read).
    const groups: Buffer[][] = [[]];
    for (let i = 0; i < PER_SOCKET; i++) {
      const body = g.body('ClientBatch', () => g.batch());
      const msg = g.int(200) === 0 ? Buffer.concat([Buffer.from([g.pick([1, 0x80])]), grpcMessage(body).subarray(1)]) : grpcMessage(body);
      groups[groups.length - 1]!.push(msg);
      if (msg[0] !== 0 || refused('ClientBatch', body) || groups[groups.length - 1]!.length >= 50) groups.push([]);
    }
    let closedByAgent = 0;
    await pool(
      groups.filter((x) => x.length).map((msgs) => async () => {
        const s = await laneConnect(peer.daemon.lane);
        s.on('data', () => {});
        s.on('error', () => {});
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            s.destroy();
            resolve();
          }, 10_000);
          s.once('close', () => {
            clearTimeout(t);
            resolve();
          });
          s.once('end', () => closedByAgent++);
          s.end(Buffer.concat(msgs));
        });
      }),
      8,
    );
    expect(closedByAgent).toBeGreaterThan(0);
    await stillServes(peer.daemon.pid, before);
  }, 120_000);

  it(`survives ${PER_SOCKET} random and mutated messages on the gRPC socket`, async () => {
    const g = new Gen(SEED + 1);
    const before = rssMiB(peer.daemon.pid);
    const session: ClientHttp2Session = await h2Session(peer.daemon.socket);
    const statuses = new Map<number | undefined, number>();
    const note = (s: number | undefined): void => void statuses.set(s, (statuses.get(s) ?? 0) + 1);
    try {
      const tasks: Array<() => Promise<void>> = [];
      let sent = 0;
      while (sent < PER_SOCKET) {
        const kind = g.int(10);
        if (kind < 6) {
          // An Exchange stream with a few batches, half-closed after them.
          const msgs: Buffer[] = [];
          for (let n = 1 + g.int(5); n > 0 && sent < PER_SOCKET; n--, sent++) {
            const body = g.body('ClientBatch', () => g.batch());
            msgs.push(grpcMessage(body));
            if (refused('ClientBatch', body)) break;
          }
          tasks.push(async () => note((await rawCall(session, 'Exchange', msgs, { ms: 10_000 })).status));
        } else {
          sent++;
          const [service, method, name, valid] = g.pick<[string, string, MessageName, () => Buffer]>([
            ['snakepit.v1.Agent', 'Execute', 'ExecuteRequest', () => encodeMessage('ExecuteRequest', g.request())],
            ['snakepit.v1.Agent', 'ExecuteStream', 'ExecuteRequest', () => encodeMessage('ExecuteRequest', g.request())],
            ['snakepit.v1.Agent', 'ListTools', 'ListToolsRequest', () => encodeMessage('ListToolsRequest', { pool: g.pick(['', 'default', 'x']) })],
            ['snakepit.v1.Agent', 'Stats', 'StatsRequest', () => Buffer.alloc(0)],
            ['snakepit.v1.Agent', 'WatchEvents', 'WatchRequest', () => encodeMessage('WatchRequest', { intervalMs: g.pick([0, 50, 0xffffffff]), calls: g.int(2) === 0 })],
            ['grpc.health.v1.Health', 'Check', 'HealthCheckRequest', () => encodeMessage('HealthCheckRequest', { service: g.pick(['', 'snakepit.v1.Agent', 'x']) })],
            ['grpc.health.v1.Health', 'Watch', 'HealthCheckRequest', () => encodeMessage('HealthCheckRequest', { service: '' })],
          ]);
          const body = g.body(name, valid);
          // Streams that never end by themselves (watches) are dropped after a moment.
          const ms = method.includes('Watch') ? 150 : 10_000;
          tasks.push(async () => note((await rawCall(session, method, [grpcMessage(body)], { service, ms })).status));
        }
      }
      await pool(tasks, 16);
    } finally {
      session.destroy();
    }
    // Malformed messages were answered with INVALID_ARGUMENT (3), never INTERNAL (13) from a crash.
    expect(statuses.get(3)).toBeGreaterThan(0);
    expect(statuses.get(13) ?? 0).toBe(0);
    await stillServes(peer.daemon.pid, before);
  }, 180_000);
});
