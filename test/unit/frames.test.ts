import { describe, expect, it } from 'vitest';
import { FrameDecoder, FrameKind, encodeFrame } from '../../src/protocol/frames.js';
import { SnakepitError } from '../../src/errors.js';

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

describe('worker frames', () => {
  it('round-trips head, payload and blobs', () => {
    const blobs = [Buffer.from([0, 1, 2, 255]), Buffer.alloc(0), Buffer.from('ünï')];
    const wire = Buffer.concat(encodeFrame(FrameKind.CALL, 42, json({ tool: 'add' }), json({ a: 1 }), blobs));
    const [f] = new FrameDecoder(1 << 20).push(wire);
    expect(f!.kind).toBe(FrameKind.CALL);
    expect(f!.id).toBe(42);
    expect(JSON.parse(f!.head.toString())).toEqual({ tool: 'add' });
    expect(JSON.parse(f!.payload.toString())).toEqual({ a: 1 });
    expect(f!.blobs.map((b) => b.toString('hex'))).toEqual(blobs.map((b) => b.toString('hex')));
  });

  it('parses frames split at every byte boundary, and several frames in one chunk', () => {
    const a = Buffer.concat(encodeFrame(FrameKind.RESULT, 1, undefined, json('é'.repeat(10))));
    const b = Buffer.concat(encodeFrame(FrameKind.CHUNK, 2, undefined, json([1, 2]), [Buffer.from('xyz')]));
    const wire = Buffer.concat([a, b]);
    for (let cut = 0; cut <= wire.length; cut++) {
      const d = new FrameDecoder(1 << 20);
      const frames = [...d.push(wire.subarray(0, cut)), ...d.push(wire.subarray(cut))];
      expect(frames.map((f) => f.id)).toEqual([1, 2]);
      expect(JSON.parse(frames[0]!.payload.toString())).toBe('é'.repeat(10));
      expect(frames[1]!.blobs[0]!.toString()).toBe('xyz');
    }
  });

  it('handles a multi-megabyte blob fed in small chunks without losing bytes', () => {
    const big = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = i % 251;
    const wire = Buffer.concat(encodeFrame(FrameKind.RESULT, 7, undefined, json({ $blob: 0 }), [big]));
    const d = new FrameDecoder(8 * 1024 * 1024);
    const frames = [];
    for (let o = 0; o < wire.length; o += 65536) frames.push(...d.push(wire.subarray(o, o + 65536)));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.blobs[0]!.equals(big)).toBe(true);
  });

  it('rejects a frame over the size limit with PAYLOAD_TOO_LARGE', () => {
    const wire = Buffer.concat(encodeFrame(FrameKind.RESULT, 1, undefined, Buffer.alloc(2000, 0x20)));
    expect(() => new FrameDecoder(1000).push(wire)).toThrowError(expect.objectContaining({ code: 'PAYLOAD_TOO_LARGE' }) as unknown as Error);
  });

  it('rejects a malformed frame body with PROTOCOL_ERROR', () => {
    const body = Buffer.alloc(20);
    body.writeUInt32BE(16, 0); // frame length
    body.writeUInt8(3, 4);
    body.writeUInt32BE(1, 5);
    body.writeUInt32BE(999, 9); // head length overruns
    try {
      new FrameDecoder(1 << 20).push(body);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(SnakepitError);
      expect((err as SnakepitError).code).toBe('PROTOCOL_ERROR');
    }
  });
});
