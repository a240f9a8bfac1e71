// Messages no well-behaved client sends: a field with the wrong wire type, a call without a
// request, values of the wrong kind. Each must cost its sender an error or its connection, never
// the agent (issue 8, item 5). The daemon here is real; the peer writes raw bytes.
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../src/api/agent-codec.js';
import type { WireServerBatch } from '../../src/api/proto.js';
import { pidAlive } from '../helpers/env.js';
import { grpcMessage, h2Session, laneExchange, rawCall, serverReplies, useDaemon } from './raw-peer.js';

// The 17-byte message of the issue: a ClientBatch whose call's request has the tool name (field 1)
// sent as a varint instead of a string.
const TOOL_AS_VARINT = Buffer.from('000000000c0a0a08011206080512027b7d', 'hex');

const peer = useDaemon();

async function stillServes(): Promise<void> {
  expect(pidAlive(peer.daemon.pid)).toBe(true);
  expect(await peer.client.execute('add', { a: 2, b: 3 })).toBe(5);
}

describe('malformed Agent API messages', () => {
  it('survives a tool name sent as a varint on the local lane', async () => {
    const r = await laneExchange(peer.daemon.lane, TOOL_AS_VARINT, 1_000);
    // Either the call is refused with INVALID_ARGUMENTS or the connection is closed.
    const replies = serverReplies(r.data);
    expect(r.closed || replies.some((x) => x.error?.code === 'INVALID_ARGUMENTS')).toBe(true);
    await stillServes();
  });

  it('survives the same message on the gRPC Exchange stream', async () => {
    const session = await h2Session(peer.daemon.socket);
    try {
      const r = await rawCall(session, 'Exchange', [TOOL_AS_VARINT], { keepOpen: true, ms: 1_000 });
      const replies = r.messages.flatMap((m) => decodeMessage<WireServerBatch>('ServerBatch', m).replies);
      expect(r.status === 3 || replies.some((x) => x.error?.code === 'INVALID_ARGUMENTS')).toBe(true);
    } finally {
      session.destroy();
    }
    await stillServes();
  });

  it('refuses a call without a request, naming the problem, and keeps the connection', async () => {
    const body = encodeMessage('ClientBatch', { calls: [{ id: 7, request: null, stream: false }, { id: 8, request: { tool: 'add', argsJson: Buffer.from('{"a":1,"b":2}') }, stream: false }], cancels: [] });
    const r = await laneExchange(peer.daemon.lane, grpcMessage(body), 1_500);
    const replies = serverReplies(r.data);
    expect(replies.find((x) => x.id === 7)?.error?.code).toBe('INVALID_ARGUMENTS');
    expect(replies.find((x) => x.id === 8)?.result?.json.toString()).toBe('3');
    await stillServes();
  });

  it('refuses wrong wire types in unary requests with a status, not a crash', async () => {
    const session = await h2Session(peer.daemon.socket);
    try {
      // ListToolsRequest.pool (a string) as a varint; ReloadRequest.pool likewise.
      for (const method of ['ListTools', 'Reload', 'RestartWorker']) {
        const r = await rawCall(session, method, [grpcMessage(Buffer.from([0x08, 0x05]))]);
        expect(r.status, method).toBe(3);
      }
    } finally {
      session.destroy();
    }
    await stillServes();
  });

  it('refuses tool names, sessions and pools of the wrong shape with INVALID_ARGUMENTS', async () => {
    const calls = [
      { id: 1, request: { tool: '', argsJson: Buffer.from('{}') } },
      { id: 2, request: { tool: 'x'.repeat(100_000), argsJson: Buffer.from('{}') } },
      { id: 3, request: { tool: 'add', argsJson: Buffer.from('{"a":1,"b":2}'), session: 's'.repeat(300_000) } },
      { id: 4, request: { tool: 'add', argsJson: Buffer.from('{"a":1,"b":2}'), timeoutMs: 2 ** 31 } },
      { id: 5, request: { tool: 'add', argsJson: Buffer.from('not json') } },
    ].map((c) => ({ ...c, stream: false }));
    const r = await laneExchange(peer.daemon.lane, grpcMessage(encodeMessage('ClientBatch', { calls, cancels: [] })), 1_500);
    const byId = new Map(serverReplies(r.data).map((x) => [x.id, x]));
    for (const id of [1, 2, 3, 4, 5]) expect(byId.get(id)?.error?.code, `call ${id}`).toBe('INVALID_ARGUMENTS');
    expect(byId.get(3)?.error?.message).toMatch(/session/);
    expect(byId.get(4)?.error?.message).toMatch(/timeout/i);
    await stillServes();
  });
});
