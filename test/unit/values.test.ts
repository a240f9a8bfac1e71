import { describe, expect, it, vi } from 'vitest';
import { decodeValue, encodeArgs, encodeValue } from '../../src/protocol/values.js';

describe('values with binary parts', () => {
  it('sends bytes as blobs, never base64, and restores them', () => {
    const bytes = Buffer.from([1, 2, 3]);
    const u8 = new Uint8Array([9, 8]);
    const enc = encodeValue({ a: bytes, nested: [{ b: u8 }], s: 'x' });
    expect(enc.blobs).toHaveLength(2);
    expect(enc.json.toString()).toBe('{"a":{"$blob":0},"nested":[{"b":{"$blob":1}}],"s":"x"}');
    const dec = decodeValue(enc) as { a: Buffer; nested: [{ b: Buffer }]; s: string };
    expect(dec.a.equals(bytes)).toBe(true);
    expect([...dec.nested[0].b]).toEqual([9, 8]);
    expect(dec.s).toBe('x');
  });

  it('keeps plain JSON (unicode, nesting) unchanged', () => {
    const v = { emoji: '🐍 ünïcödé', deep: { a: [1, { b: null, c: [true, 1.5] }] } };
    expect(decodeValue(encodeValue(v))).toEqual(v);
  });

  it('treats an empty payload as null and requires an object of arguments', () => {
    expect(decodeValue({ json: Buffer.alloc(0), blobs: [] })).toBeNull();
    expect(encodeArgs(undefined).json.toString()).toBe('{}');
    expect(() => encodeArgs([1, 2])).toThrowError(/object of named parameters/);
    expect(() => encodeArgs('x')).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENTS' }) as unknown as Error);
  });

  it('never turns a blob into a JSON array of its bytes (Buffer#toJSON), so big blobs cost no more than their copy', () => {
    const toJSON = vi.spyOn(Buffer.prototype, 'toJSON');
    try {
      const big = Buffer.alloc(8 * 1024 * 1024, 1);
      const when = new Date(0);
      const enc = encodeValue({ value: big, list: [big, 1], when, gone: undefined });
      expect(toJSON).not.toHaveBeenCalled();
      expect(enc.json.toString()).toBe('{"value":{"$blob":0},"list":[{"$blob":1},1],"when":"1970-01-01T00:00:00.000Z"}');
      expect(enc.blobs[0]).toBe(big);
      expect(encodeValue(big).json.toString()).toBe('{"$blob":0}');
    } finally {
      toJSON.mockRestore();
    }
  });
});
