// Half-close means "no more calls", not "I am gone" (issue 8, item 6): a standard gRPC client
// (grpc-js with proto-loader reading agent.proto, nothing of Snakepit's own client) that sends its
// calls and then ends its side of the Exchange stream gets every reply, then status OK. The local
// lane keeps the same rule, and still cancels the calls of a client that really went away.
import { describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { encodeMessage } from '../../src/api/agent-codec.js';
import { ROOT, waitFor } from '../helpers/env.js';
import { grpcMessage, laneConnect, serverReplies, useDaemon } from './raw-peer.js';

const peer = useDaemon(['--workers', '2']);

const calls = [
  { id: 1, request: { tool: 'sleep', argsJson: Buffer.from('{"seconds":0.3}') }, stream: false },
  { id: 2, request: { tool: 'add', argsJson: Buffer.from('{"a":40,"b":2}') }, stream: false },
  { id: 3, request: { tool: 'tokens', argsJson: Buffer.from('{"text":"x y z"}') }, stream: true },
];

describe('a half-closed Exchange stream', () => {
  it('gets every reply over gRPC, then status OK, from a standard client', async () => {
    const def = protoLoader.loadSync(join(ROOT, 'proto/snakepit/v1/agent.proto'), { keepCase: false, longs: Number, defaults: true, oneofs: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { snakepit: { v1: { Agent: grpc.ServiceClientConstructor } } };
    const stub = new pkg.snakepit.v1.Agent(`unix:${peer.daemon.socket}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Exchange(): grpc.ClientDuplexStream<unknown, { replies: Array<{ id: number; item: string; result?: { json: Buffer }; chunk?: { json: Buffer }; end?: boolean }> }> };
    try {
      const replies: Array<{ id: number; item: string; json?: string }> = [];
      const status = await new Promise<grpc.StatusObject>((resolve) => {
        const stream = stub.Exchange();
        stream.on('data', (b: { replies: Array<{ id: number; item: string; result?: { json: Buffer }; chunk?: { json: Buffer } }> }) => replies.push(...b.replies.map((r) => ({ id: r.id, item: r.item, json: (r.result ?? r.chunk)?.json.toString() }))));
        stream.on('status', resolve);
        stream.on('error', () => {});
        stream.write({ calls: calls.map((c) => ({ ...c, request: { ...c.request, argsJson: c.request.argsJson } })), cancels: [] });
        stream.end();
      });
      expect(status.code).toBe(grpc.status.OK);
      expect(replies.find((r) => r.id === 1)?.item).toBe('result');
      expect(replies.find((r) => r.id === 2)?.json).toBe('42');
      expect(replies.filter((r) => r.id === 3 && r.item === 'chunk')).toHaveLength(3);
      expect(replies.some((r) => r.id === 3 && r.item === 'end')).toBe(true);
    } finally {
      stub.close();
    }
  });

  it('gets every reply on the local lane, then the agent ends the connection', async () => {
    const s = await laneConnect(peer.daemon.lane);
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise<void>((resolve) => s.once('end', resolve));
    s.end(grpcMessage(encodeMessage('ClientBatch', { calls, cancels: [] })));
    await ended;
    const replies = serverReplies(Buffer.concat(chunks));
    expect(replies.find((r) => r.id === 1)?.result).toBeDefined();
    expect(replies.find((r) => r.id === 2)?.result?.json.toString()).toBe('42');
    expect(replies.filter((r) => r.id === 3 && r.chunk)).toHaveLength(3);
  });

  it('still cancels the calls of a lane client that went away', async () => {
    const s = await laneConnect(peer.daemon.lane);
    s.write(grpcMessage(encodeMessage('ClientBatch', { calls: [{ id: 1, request: { tool: 'sleep', argsJson: Buffer.from('{"seconds":20}') }, stream: false }], cancels: [] })));
    await waitFor(async () => (await peer.client.stats()).calls.inFlight === 1, 5_000);
    s.destroy();
    // The call is cancelled (its worker is told; the tool stops), long before its 20 s.
    await waitFor(async () => (await peer.client.stats()).calls.inFlight === 0, 5_000);
  });
});
