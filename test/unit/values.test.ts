import { describe, expect, it } from 'vitest';
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
});
