// The chunk list behind every frame and message reader: bytes come out exactly as they went in,
// whatever the chunk boundaries, and each byte is copied at most once.
import { describe, expect, it } from 'vitest';
import { ChunkList } from '../../src/protocol/chunks.js';
import { FrameDecoder, encodeFrame } from '../../src/protocol/frames.js';
import { MessageReader, messagePrefix } from '../../src/api/grpc-frame.js';

describe('ChunkList', () => {
  it('returns slices within a chunk and one copy across chunks', () => {
    const c = new ChunkList();
    const a = Buffer.from('hello ');
    c.push(a);
    c.push(Buffer.from('world'));
    expect(c.peek(3).toString()).toBe('hel');
    const head = c.take(3);
    expect(head.buffer).toBe(a.buffer); // no copy inside one chunk
    expect(c.take(5).toString()).toBe('lo wo');
    expect(c.length).toBe(3);
    expect(c.take(0).length).toBe(0);
    expect(c.take(3).toString()).toBe('rld');
    expect(c.length).toBe(0);
    expect(c.take(0).length).toBe(0);
  });

  it('keeps order over thousands of tiny chunks', () => {
    const c = new ChunkList();
    const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));
    for (const b of data) c.push(Buffer.from([b]));
    const out = [c.take(1), c.take(4_999), c.take(5_000)];
    expect(Buffer.concat(out).equals(data)).toBe(true);
  });
});

describe('readers over chunk lists', () => {
  it('decode frames and messages split at every possible point', () => {
    const frame = Buffer.concat(encodeFrame(3, 7, Buffer.from('{}'), Buffer.from('"x"'), [Buffer.from('blob')]));
    const message = Buffer.concat([messagePrefix(3), Buffer.from('abc'), messagePrefix(0)]);
    for (let cut = 0; cut <= frame.length; cut++) {
      const d = new FrameDecoder(1024);
      const frames = [...d.push(frame.subarray(0, cut)), ...d.push(frame.subarray(cut))];
      expect(frames).toHaveLength(1);
      expect(frames[0]!.blobs[0]!.toString()).toBe('blob');
    }
    for (let cut = 0; cut <= message.length; cut++) {
      const r = new MessageReader(1024);
      const bodies = [...r.push(message.subarray(0, cut)), ...r.push(message.subarray(cut))];
      expect(bodies.map((b) => b.toString())).toEqual(['abc', '']);
    }
  });

  it('refuse a declared length above the limit before buffering it', () => {
    expect(() => new MessageReader(10).push(messagePrefix(11))).toThrow(/exceeds the limit/);
    expect(() => new MessageReader(10).push(Buffer.from([1, 0, 0, 0, 1, 0]))).toThrow(/compressed/);
  });
});
