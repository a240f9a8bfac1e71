// The hand-written Agent API codec must agree with agent.proto: every message is encoded here
// and decoded by protobufjs reading the real file, and the other way round.
import { describe, expect, it } from 'vitest';
import protobuf from 'protobufjs';
import { join } from 'node:path';
import { MalformedMessage, RAW, SCHEMAS, decodeMessage, encodeClientBatch, encodeClientBatchBySchema, encodeFramed, encodeMessage, encodeServerBatch, type MessageName } from '../../src/api/agent-codec.js';
import { ROOT } from '../helpers/env.js';

const root = protobuf.loadSync([join(ROOT, 'proto/snakepit/v1/agent.proto'), join(ROOT, 'proto/grpc/health/v1/health.proto')]);
const fullName = (name: string): string => (name.startsWith('HealthCheck') ? `grpc.health.v1.${name}` : `snakepit.v1.${name}`);
const b = (s: string): Buffer => Buffer.from(s);

// One sample per message, with every field set (bytes as Buffers, camelCase names).
const samples: Record<MessageName, Record<string, unknown>> = {
  ExecuteRequest: { tool: 'ädd', argsJson: b('{"a":1}'), blobs: [b('x'), Buffer.alloc(0)], session: 's', timeoutMs: 300000, idempotent: true, pool: 'p', require: ['gpu=a100', 'zone=eu'] },
  ExecuteReply: { error: { code: 'TIMEOUT', message: 'late', type: 'T', traceback: 'tb', agent: 'host-1a2b3c' } },
  StreamReply: { chunk: { json: b('1'), blobs: [b('z')] } },
  ClientBatch: { calls: [{ id: 9, request: { tool: 't', argsJson: b('{}'), blobs: [], session: '', timeoutMs: 0, idempotent: false, pool: '', require: [] }, stream: true }], cancels: [1, 200000] },
  ServerBatch: { replies: [{ id: 1, result: { json: b('2'), blobs: [] } }, { id: 2, end: true }] },
  ListToolsRequest: { pool: 'ml' },
  ListToolsReply: { tools: [{ name: 'add', doc: 'Add.', params: [{ name: 'a', type: 'integer', required: true, defaultJson: '' }, { name: 'b', type: 'integer | null', required: false, defaultJson: 'null' }], stream: false, pool: 'default', agents: ['agent-1', 'agent-2'] }] },
  StatsRequest: {},
  StatsReply: { json: '{"agent":{}}' },
  ShutdownRequest: { graceMs: 1500 },
  ShutdownReply: { pid: 4242 },
  DrainRequest: { deadlineMs: 30000 },
  DrainReply: { drained: true, pid: 77 },
  ReloadRequest: { pool: 'p' },
  ReloadReply: { replaced: 3 },
  WatchRequest: { intervalMs: 250, calls: true },
  AgentUpdate: { eventJson: '{"type":"worker.ready"}' },
  RestartWorkerRequest: { worker: 'default-0' },
  RestartWorkerReply: {},
  HealthCheckRequest: { service: 'snakepit.v1.Agent' },
  HealthCheckResponse: { status: 2 },
};

const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_k, x) => (x && x.type === 'Buffer' && Array.isArray(x.data) ? `b:${Buffer.from(x.data).toString('hex')}` : x instanceof Uint8Array ? `b:${Buffer.from(x).toString('hex')}` : x)));

describe('Agent API codec', () => {
  it('has a schema for every message of agent.proto', () => {
    const inProto = root.lookup('snakepit.v1') as protobuf.Namespace;
    const names = Object.values(inProto.nested!).filter((n) => n instanceof protobuf.Type).map((n) => n.name);
    for (const n of names) if (!['Value', 'Error', 'Param', 'Tool', 'Call', 'Reply'].includes(n)) expect(Object.keys(SCHEMAS)).toContain(n);
  });

  it.each(Object.keys(samples) as MessageName[])('%s: ours → protobufjs → ours', (name) => {
    const type = root.lookupType(fullName(name));
    const view = (bytes: Uint8Array): unknown => plain(type.toObject(type.decode(bytes), { defaults: true, longs: Number, oneofs: true }));
    // Our bytes, read by protobufjs, say exactly what protobufjs's own encoding says.
    expect(view(encodeMessage(name, samples[name]!))).toEqual(view(type.encode(type.fromObject(samples[name]!)).finish()));
    const back = decodeMessage<Record<string, unknown>>(name, Buffer.from(type.encode(type.fromObject(samples[name]!)).finish()));
    for (const [k, v] of Object.entries(samples[name]!)) expect(plain(back[k])).toEqual(plain(v));
  });

  it('fills defaults for absent fields and leaves absent oneof members out', () => {
    expect(decodeMessage('ExecuteRequest', Buffer.alloc(0))).toEqual({ tool: '', argsJson: Buffer.alloc(0), blobs: [], session: '', timeoutMs: 0, idempotent: false, pool: '', require: [] });
    expect(decodeMessage('ExecuteReply', Buffer.alloc(0))).toEqual({});
    expect(decodeMessage('AgentUpdate', encodeMessage('AgentUpdate', { statsJson: '' }))).toEqual({ statsJson: '' });
  });

  it('has a sample of the lagged watch update', () => {
    const type = root.lookupType('snakepit.v1.AgentUpdate');
    expect(type.toObject(type.decode(encodeMessage('AgentUpdate', { lagged: 12 })))).toEqual({ lagged: 12 });
  });

  // What a hostile peer can send: each must be a MalformedMessage naming the problem, never a
  // value of the wrong type where a string belongs (the 17-byte message of issue 8 crashed the agent).
  it.each([
    ['a string field sent as a varint', 'ExecuteRequest', '0805'],
    ['a nested message sent as a varint', 'ClientBatch', '0a0a08011206080512027b7d'],
    ['a bool sent as a length-delimited field', 'WatchRequest', '120101'],
    ['a varint of 11 bytes', 'WatchRequest', '08ffffffffffffffffffff01'],
    ['a uint32 above its range', 'WatchRequest', '0880808080 10'.replace(' ', '')],
    ['a length past the end', 'ExecuteRequest', '0a05616263'],
    ['a truncated varint', 'ShutdownRequest', '0880'],
    ['a group (wire type 3)', 'StatsRequest', '0b'],
    ['field number 0', 'StatsRequest', '0001'],
  ])('refuses %s', (_what, name, hex) => {
    expect(() => decodeMessage(name as MessageName, Buffer.from(hex, 'hex'))).toThrow(MalformedMessage);
  });

  it('skips unknown fields of every wire type (a newer peer), and takes packed and unpacked repeated scalars', () => {
    expect(decodeMessage('StatsRequest', Buffer.from('f80101fa0102abcdfd0100000000f9010000000000000000', 'hex'))).toEqual({});
    expect(decodeMessage('ClientBatch', Buffer.from('1202010210031004', 'hex'))).toEqual({ calls: [], cancels: [1, 2, 3, 4] });
  });

  it('encodes a negative int32 as protobufjs does (10-byte two\'s complement)', () => {
    const type = root.lookupType('snakepit.v1.ShutdownReply');
    expect(encodeMessage('ShutdownReply', { pid: -5 }).toString('hex')).toBe(Buffer.from(type.encode(type.fromObject({ pid: -5 })).finish()).toString('hex'));
  });
});

describe('hand-written batch encoders (the hot path) write what the schema writes', () => {
  const raw = (m: Record<string, unknown>): Buffer => {
    // A value or request as the decoder hands it over: it keeps its bytes (RAW).
    const body = encodeMessage('ClientBatch', { calls: [{ id: 1, request: m, stream: false }], cancels: [] });
    return (decodeMessage<{ calls: Array<{ request: Record<PropertyKey, unknown> }> }>('ClientBatch', body).calls[0]!.request[RAW] as Buffer);
  };

  it('ClientBatch of forwarded requests (ids, streams, cancels) equals encodeClientBatchBySchema, and protobufjs reads it', () => {
    const wire = raw({ tool: 'ädd', argsJson: b('{"a":1}'), blobs: [b('x')], session: 's', timeoutMs: 5, idempotent: true, pool: '', require: ['k=v'] });
    const big = raw({ tool: 'big', argsJson: Buffer.alloc(300, 0x31), blobs: [], session: '', timeoutMs: 0, idempotent: false, pool: '', require: [] });
    const calls = [
      { id: 1, tool: 't', args: { json: b('{}'), blobs: [] }, session: null, idempotent: false, stream: false, wire },
      { id: 0x7fffffff, tool: 't', args: { json: b('{}'), blobs: [] }, session: null, idempotent: false, stream: true, wire: big },
    ];
    for (const [c, cancels] of [[calls, [3, 200000]], [calls.slice(0, 1), []], [[], [9]]] as const) {
      const fast = encodeClientBatch(c as never, cancels as never);
      expect(fast.equals(encodeClientBatchBySchema(c as never, cancels as never))).toBe(true);
      const decoded = root.lookupType('snakepit.v1.ClientBatch').decode(fast.subarray(5)).toJSON() as { calls?: unknown[]; cancels?: number[] };
      expect(decoded.calls?.length ?? 0).toBe(c.length);
      expect(decoded.cancels ?? []).toEqual(cancels);
    }
  });

  it('ServerBatch of results, chunks and ends (raw and built values) equals the schema encoding, framed and bare', () => {
    const v = { json: b('[1,2]'), blobs: [b('ab'), Buffer.alloc(0)] };
    const empty = { json: Buffer.alloc(0), blobs: [] };
    const fromWire = decodeMessage<{ replies: Array<{ result: { json: Buffer; blobs: Buffer[] } }> }>('ServerBatch', encodeMessage('ServerBatch', { replies: [{ id: 1, result: v }] })).replies[0]!.result;
    const replies = [{ id: 1, result: v }, { id: 2, chunk: fromWire }, { id: 3, end: true }, { id: 300, result: empty }, { id: 4, end: false }];
    expect(encodeServerBatch(replies, false).equals(encodeMessage('ServerBatch', { replies }))).toBe(true);
    expect(encodeServerBatch(replies).equals(encodeFramed('ServerBatch', { replies }))).toBe(true);
    const withError = [...replies, { id: 5, error: { code: 'X', message: 'm', type: '', traceback: '', agent: '' } }];
    expect(encodeServerBatch(withError).equals(encodeFramed('ServerBatch', { replies: withError }))).toBe(true);
  });
});
