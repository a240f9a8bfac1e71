// A hostile peer of the Agent API: raw bytes on the local lane socket, and raw gRPC messages over
// HTTP/2 on the agent's socket, with nothing of Snakepit's own client in between (so a test can
// send what no well-behaved client would). Also the daemon fixture these tests share.
import { connect as h2connect, constants, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { connect, type AgentClient } from '../../src/index.js';
import { decodeMessage } from '../../src/api/agent-codec.js';
import type { WireServerBatch } from '../../src/api/proto.js';
import { PYTHON, killPids, pidAlive, runCli, tempDir } from '../helpers/env.js';

/** gRPC's 5-byte message prefix followed by the body. */
export function grpcMessage(body: Buffer, compressed = 0): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt8(compressed, 0);
  prefix.writeUInt32BE(body.length, 1);
  return Buffer.concat([prefix, body]);
}

/** A daemon started with `snakepit up` in a private home; `stop()` downs it and kills leftovers by pid. */
export interface Daemon {
  /** A private temporary directory the daemon's home is in (removed by stop). */
  dir: string;
  home: string;
  env: Record<string, string>;
  pid: number;
  workerPids: number[];
  socket: string;
  lane: string;
  /** `up --json`'s document, and what it said on stderr. */
  up: Record<string, unknown>;
  upStderr: string;
  stop(): Promise<void>;
}

export async function startDaemon(args: string[] = [], opts: { env?: Record<string, string>; prefix?: string } = {}): Promise<Daemon> {
  const dir = tempDir(opts.prefix ?? 'sp-sec-');
  const home = join(dir.path, 'h');
  const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config'), ...opts.env };
  const up = await runCli(['up', '--home', home, '--workers', '1', ...args, '--json'], { env });
  if (up.code !== 0) {
    dir.cleanup();
    throw new Error(`snakepit up failed (${up.code}): ${up.stderr}`);
  }
  const info = JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8')) as { pid: number; workerPids: number[] };
  return {
    dir: dir.path,
    home,
    env,
    pid: info.pid,
    workerPids: info.workerPids,
    socket: join(home, 'agent.sock'),
    lane: join(home, 'exchange.sock'),
    up: JSON.parse(up.stdout) as Record<string, unknown>,
    upStderr: up.stderr,
    async stop() {
      await runCli(['down', '--home', home], { env });
      killPids([info.pid, ...info.workerPids].filter(pidAlive));
      dir.cleanup();
    },
  };
}

/**
 * A daemon and a `connect()` client to it for the tests of one file: started before them,
 * stopped after them. Read `daemon` and `client` inside tests (they exist once `beforeAll` ran).
 */
export function useDaemon(args: string[] = [], opts: { env?: Record<string, string>; warmUpCalls?: number } = {}): { daemon: Daemon; client: AgentClient } {
  const ctx = {} as { daemon: Daemon; client: AgentClient };
  beforeAll(async () => {
    ctx.daemon = await startDaemon(args, opts);
    ctx.client = connect({ home: ctx.daemon.home });
    // Warm up, so the agent's own first allocations are not counted as anything a test did.
    await Promise.all(Array.from({ length: opts.warmUpCalls ?? 0 }, (_, i) => ctx.client.execute('add', { a: i, b: 1 })));
  });
  afterAll(async () => {
    ctx.client?.close();
    await ctx.daemon?.stop();
  });
  return ctx;
}

/** Opens a lane connection; resolves once connected. */
export function laneConnect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect(path, () => resolve(s));
    s.once('error', reject);
  });
}

/** Writes `bytes` to a fresh lane connection and resolves with what came back before it closed or `ms` passed. */
export async function laneExchange(path: string, bytes: Buffer, ms = 1_000): Promise<{ data: Buffer; closed: boolean }> {
  const s = await laneConnect(path);
  const chunks: Buffer[] = [];
  let closed = false;
  s.on('data', (c: Buffer) => chunks.push(c));
  s.on('error', () => {});
  s.write(bytes);
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    s.once('close', () => {
      closed = true;
      clearTimeout(t);
      resolve();
    });
  });
  s.destroy();
  return { data: Buffer.concat(chunks), closed };
}

export function h2Session(socketPath: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = h2connect('http://localhost', { createConnection: () => netConnect(socketPath) });
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}

export interface RawCallResult {
  status: number | undefined;
  message: string;
  /** Message bodies received (without their 5-byte prefixes). */
  messages: Buffer[];
}

/**
 * One gRPC call of `method` (e.g. "Exchange") with raw request bytes: `writes` are sent as they are
 * (each a whole or partial gRPC message), then the stream is half-closed unless `keepOpen`.
 * Resolves with the status and the response messages once the server ends the call (or after `ms`).
 */
export function rawCall(session: ClientHttp2Session, method: string, writes: Buffer[], opts: { service?: string; keepOpen?: boolean; ms?: number } = {}): Promise<RawCallResult> {
  return new Promise((resolve) => {
    const stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: `/${opts.service ?? 'snakepit.v1.Agent'}/${method}`,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const chunks: Buffer[] = [];
    let status: number | undefined;
    let message = '';
    let settled = false;
    const done = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const messages: Buffer[] = [];
      for (let o = 0; o + 5 <= all.length; ) {
        const len = all.readUInt32BE(o + 1);
        messages.push(all.subarray(o + 5, o + 5 + len));
        o += 5 + len;
      }
      if (!stream.destroyed) stream.close();
      resolve({ status, message, messages });
    };
    const timer = setTimeout(done, opts.ms ?? 5_000);
    const onStatus = (h: Record<string, unknown>): void => {
      if (h['grpc-status'] !== undefined) {
        status = Number(h['grpc-status']);
        message = decodeURIComponent(String(h['grpc-message'] ?? ''));
      }
    };
    stream.on('response', onStatus);
    stream.on('trailers', onStatus);
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('close', done);
    stream.on('error', () => {});
    for (const w of writes) stream.write(w);
    if (!opts.keepOpen) stream.end();
  });
}

/** The replies in a stream of ServerBatch messages (5-byte prefix + body each); a cut-off last message is left out. */
export function serverReplies(data: Buffer): WireServerBatch['replies'] {
  const out: WireServerBatch['replies'] = [];
  for (let o = 0; o + 5 <= data.length; ) {
    const len = data.readUInt32BE(o + 1);
    if (o + 5 + len > data.length) break;
    out.push(...decodeMessage<WireServerBatch>('ServerBatch', data.subarray(o + 5, o + 5 + len)).replies);
    o += 5 + len;
  }
  return out;
}

/** Resident set size of a process, MiB. */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}
