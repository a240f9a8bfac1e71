// Timeouts no timer can hold (issue 8, item 9): Node's setTimeout fires at once (with a
// TimeoutOverflowWarning) for anything above 2^31 - 1 ms, so such a call used to time out
// immediately on the client or the agent. Now: above maxTimeoutMs is refused with
// INVALID_ARGUMENTS on both sides; up to it, the call runs as asked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, startAgent, type AgentClient, type EmbeddedAgent, type SnakepitError } from '../../src/index.js';
import { encodeMessage } from '../../src/api/agent-codec.js';
import { PYTHON } from '../helpers/env.js';
import { grpcMessage, h2Session, rawCall, startDaemon, type Daemon } from './raw-peer.js';

const MAX = 2 ** 31 - 1;
const codeOf = (p: Promise<unknown>): Promise<string> => p.then(() => 'OK', (e: SnakepitError) => e.code);

let daemon: Daemon;
let client: AgentClient;
let embedded: EmbeddedAgent;

beforeAll(async () => {
  [daemon, embedded] = await Promise.all([startDaemon(), startAgent({ python: PYTHON, workers: 1 })]);
  client = connect({ home: daemon.home });
});

afterAll(async () => {
  client?.close();
  await Promise.all([daemon?.stop(), embedded?.stop()]);
});

describe('huge timeouts', () => {
  it('refuses a timeout above the longest timer, embedded and remote', async () => {
    for (const c of [embedded, client]) {
      expect(await codeOf(c.execute('add', { a: 1, b: 2 }, { timeoutMs: MAX + 1 }))).toBe('INVALID_ARGUMENTS');
      expect(await codeOf(c.execute('add', { a: 1, b: 2 }, { timeoutMs: 2 ** 40 }))).toBe('INVALID_ARGUMENTS');
    }
  });

  it('runs a call with the longest timeout as asked (no instant TIMEOUT)', async () => {
    for (const c of [embedded, client]) {
      expect(await c.execute('sleep', { seconds: 0.2 }, { timeoutMs: MAX })).toBeGreaterThan(0.15);
    }
  });

  it('refuses a peer that sends an oversized timeout on the wire', async () => {
    const session = await h2Session(daemon.socket);
    try {
      const r = await rawCall(session, 'Execute', [grpcMessage(encodeMessage('ExecuteRequest', { tool: 'sleep', argsJson: Buffer.from('{"seconds":0.1}'), timeoutMs: 4_000_000_000 }))]);
      expect(r.status).toBe(0);
      const reply = (await import('../../src/api/agent-codec.js')).decodeMessage<{ error?: { code: string; message: string } }>('ExecuteReply', r.messages[0]!);
      expect(reply.error?.code).toBe('INVALID_ARGUMENTS');
      expect(reply.error?.message).toMatch(/timeoutMs/);
    } finally {
      session.destroy();
    }
  });

  it('clamps the snapshot interval a watcher asks for', async () => {
    // A watch interval of 2^32 - 1 ms would overflow into a 1 ms interval: it is clamped instead.
    const session = await h2Session(daemon.socket);
    try {
      const r = await rawCall(session, 'WatchEvents', [grpcMessage(encodeMessage('WatchRequest', { intervalMs: 0xffffffff }))], { ms: 600 });
      // One snapshot at once, none more within 600 ms (at 1 ms there would be hundreds).
      expect(r.messages.length).toBe(1);
    } finally {
      session.destroy();
    }
  });
});
