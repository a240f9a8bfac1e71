// The Exchange stream as the client sees it (encodeClientBatch / decodeServerBatch in
// src/api/agent-codec.ts, the one codec) must agree with agent.proto: check it against protobufjs
// reading the real file, both directions, including blobs, unicode and packed cancels.
import { describe, expect, it } from 'vitest';
import protobuf from 'protobufjs';
import { join } from 'node:path';
import { messagePrefix } from '../../src/api/grpc-frame.js';
import { RAW, decodeMessage, decodeServerBatch, encodeClientBatch, encodeMessage } from '../../src/api/agent-codec.js';
import { toRequest } from '../../src/api/exchange-session.js';
import type { WireClientBatch } from '../../src/api/proto.js';
import { ROOT } from '../helpers/env.js';

const root = protobuf.loadSync(join(ROOT, 'proto/snakepit/v1/agent.proto'));
const ClientBatch = root.lookupType('snakepit.v1.ClientBatch');
const ServerBatch = root.lookupType('snakepit.v1.ServerBatch');

describe('Exchange wire codec', () => {
  it('encodes ClientBatch exactly as agent.proto defines it', () => {
    const wire = encodeClientBatch(
      [
        { id: 1, tool: 'add', args: { json: Buffer.from('{"a":1}'), blobs: [] }, session: null, timeoutMs: undefined, idempotent: false, pool: undefined, stream: false },
        { id: 300, tool: 'ünï', args: { json: Buffer.from('{"d":{"$blob":0}}'), blobs: [Buffer.from([0, 255, 7]), Buffer.alloc(0)] }, session: 's-1', timeoutMs: 123456, idempotent: true, pool: 'ml', stream: true },
      ],
      [5, 70000],
    );
    expect(wire[0]).toBe(0);
    expect(wire.readUInt32BE(1)).toBe(wire.length - 5);
    const msg = ClientBatch.toObject(ClientBatch.decode(wire.subarray(5)), { defaults: true }) as {
      calls: Array<{ id: number; stream: boolean; request: Record<string, unknown> & { argsJson: Uint8Array; blobs: Uint8Array[] } }>;
      cancels: number[];
    };
    expect(msg.cancels).toEqual([5, 70000]);
    expect(msg.calls[0]).toMatchObject({ id: 1, stream: false, request: { tool: 'add', session: '', timeoutMs: 0, idempotent: false, pool: '' } });
    expect(Buffer.from(msg.calls[0]!.request.argsJson).toString()).toBe('{"a":1}');
    expect(msg.calls[1]).toMatchObject({ id: 300, stream: true, request: { tool: 'ünï', session: 's-1', timeoutMs: 123456, idempotent: true, pool: 'ml' } });
    expect(msg.calls[1]!.request.blobs.map((b) => [...b])).toEqual([[0, 255, 7], []]);
  });

  it('decodes every ServerBatch reply kind protobufjs encodes', () => {
    const bytes = ServerBatch.encode(
      ServerBatch.fromObject({
        replies: [
          { id: 1, result: { json: Buffer.from('3') } },
          { id: 2, chunk: { json: Buffer.from('{"$blob":0}'), blobs: [Buffer.from('xyz')] } },
          { id: 2, end: true },
          { id: 99999, error: { code: 'PYTHON_EXCEPTION', message: 'bœm', type: 'ValueError', traceback: 'Traceback…' } },
          { id: 4, error: { code: 'TIMEOUT', message: 'late' } },
        ],
      }),
    ).finish();
    const replies = decodeServerBatch(Buffer.from(bytes));
    expect(replies).toHaveLength(5);
    expect(replies[0]).toMatchObject({ id: 1, kind: 'result' });
    expect((replies[0] as { value: { json: Buffer } }).value.json.toString()).toBe('3');
    expect(replies[1]).toMatchObject({ id: 2, kind: 'chunk' });
    expect((replies[1] as { value: { blobs: Buffer[] } }).value.blobs[0]!.toString()).toBe('xyz');
    expect(replies[2]).toEqual({ id: 2, kind: 'end' });
    expect(replies[3]).toEqual({ id: 99999, kind: 'error', error: { code: 'PYTHON_EXCEPTION', message: 'bœm', type: 'ValueError', traceback: 'Traceback…' } });
    expect(replies[4]).toEqual({ id: 4, kind: 'error', error: { code: 'TIMEOUT', message: 'late' } });
  });

  it('rejects truncated input instead of misreading it', () => {
    const bytes = Buffer.from(ServerBatch.encode(ServerBatch.fromObject({ replies: [{ id: 1, result: { json: Buffer.from('12345') } }] })).finish());
    expect(() => decodeServerBatch(bytes.subarray(0, bytes.length - 2))).toThrow(/runs past the end/);
  });

  it('the agent side (agent-codec, as the local lane uses it): decodes ClientBatch and encodes ServerBatch as protobufjs does', () => {
    const bytes = ClientBatch.encode(
      ClientBatch.fromObject({
        calls: [
          { id: 7, stream: true, request: { tool: 'tokens', argsJson: Buffer.from('{"text":"a b"}'), blobs: [Buffer.from([1, 2])], session: 'é', timeoutMs: 5000, idempotent: true, pool: 'p' } },
          { id: 8, request: { tool: 'add', argsJson: Buffer.from('{}') } },
        ],
        cancels: [3, 4],
      }),
    ).finish();
    const batch = decodeMessage<WireClientBatch>('ClientBatch', Buffer.from(bytes));
    expect(batch.cancels).toEqual([3, 4]);
    expect(batch.calls[0]).toMatchObject({ id: 7, stream: true, request: { tool: 'tokens', session: 'é', timeoutMs: 5000, idempotent: true, pool: 'p' } });
    expect(batch.calls[0]!.request!.argsJson.toString()).toBe('{"text":"a b"}');
    expect([...batch.calls[0]!.request!.blobs[0]!]).toEqual([1, 2]);
    expect(batch.calls[1]).toMatchObject({ id: 8, stream: false, request: { tool: 'add', session: '', timeoutMs: 0, idempotent: false } });

    const body = encodeMessage('ServerBatch', { replies: [
      { id: 1, result: { json: Buffer.from('3'), blobs: [] } },
      { id: 2, chunk: { json: Buffer.from('{"$blob":0}'), blobs: [Buffer.from('z')] } },
      { id: 2, end: true },
      { id: 3, error: { code: 'TIMEOUT', message: 'late', type: '', traceback: '' } },
    ] });
    const out = Buffer.concat([messagePrefix(body.length), body]);
    expect(out.readUInt32BE(1)).toBe(out.length - 5);
    const decoded = ServerBatch.toObject(ServerBatch.decode(out.subarray(5)), { oneofs: true }) as { replies: Array<Record<string, unknown>> };
    expect(decoded.replies.map((r) => r.item)).toEqual(['result', 'chunk', 'end', 'error']);
    expect(decoded.replies[3]!.error).toMatchObject({ code: 'TIMEOUT', message: 'late' });
    expect(decodeServerBatch(out.subarray(5))).toHaveLength(4);
  });

  it('a router forwards a request and an answer as the bytes they came in (unknown fields included), and re-encodes a changed request', () => {
    const request = { tool: 'add', argsJson: Buffer.from('{"a":1}'), blobs: [Buffer.from([9])], session: 's', timeoutMs: 700, idempotent: true, pool: 'p', require: ['gpu=1'] };
    // A newer client's unknown field 15 (varint 1) inside the request: kept through the router.
    const ExecuteRequest = root.lookupType('snakepit.v1.ExecuteRequest');
    const reqBytes = Buffer.from(ExecuteRequest.encode(ExecuteRequest.fromObject(request)).finish());
    const withUnknown = Buffer.concat([reqBytes, Buffer.from([15 << 3, 1])]);
    // ClientBatch { calls: [{ id: 1, request: <withUnknown> }] }, by hand (all lengths < 128).
    const call = Buffer.concat([Buffer.from([(1 << 3) | 0, 1, (2 << 3) | 2, withUnknown.length]), withUnknown]);
    const batch = decodeMessage<WireClientBatch>('ClientBatch', Buffer.concat([Buffer.from([(1 << 3) | 2, call.length]), call]));
    const req = toRequest(batch.calls[0]!.request);
    expect(req.wire && Buffer.compare(req.wire, withUnknown)).toBe(0);
    const forwarded = encodeClientBatch([{ id: 9, ...req, idempotent: true, stream: false }], []);
    const out = ClientBatch.decode(forwarded.subarray(5)) as unknown as { calls: Array<{ id: number; request: { tool: string; timeoutMs: number } }> };
    expect(out.calls[0]).toMatchObject({ id: 9, request: { tool: 'add', timeoutMs: 700 } });
    expect(forwarded.includes(withUnknown)).toBe(true);
    // Changed (a retry with less time left): the bytes go, the new deadline is what is sent.
    const changed = encodeClientBatch([{ id: 10, ...req, timeoutMs: 300, wire: undefined, idempotent: true, stream: false }], []);
    const again = ClientBatch.decode(changed.subarray(5)) as unknown as { calls: Array<{ request: { tool: string; timeoutMs: number; require: string[] } }> };
    expect(again.calls[0]!.request).toMatchObject({ tool: 'add', timeoutMs: 300, require: ['gpu=1'] });
    expect(changed.includes(withUnknown)).toBe(false);

    // An answer: a decoded Value is written out as its bytes.
    const sb = Buffer.from(ServerBatch.encode(ServerBatch.fromObject({ replies: [{ id: 1, result: { json: Buffer.from('[1,2]'), blobs: [Buffer.from('b')] } }] })).finish());
    const [reply] = decodeServerBatch(sb) as Array<{ value?: { [RAW]?: Buffer } }>;
    const value = reply!.value!;
    expect(value[RAW]).toBeDefined();
    const body = encodeMessage('ServerBatch', { replies: [{ id: 1, result: value }] });
    expect(Buffer.compare(body, sb)).toBe(0);
  });
});
