// JSON values with binary parts. Bytes never travel as base64: a Buffer/Uint8Array anywhere in a
// value is replaced by `{"$blob": i}` and sent as the i-th raw byte section beside the JSON.
import { SnakepitError } from '../errors.js';

/** A value as it travels: UTF-8 JSON bytes plus raw binary sections. */
export interface EncodedValue {
  json: Buffer;
  blobs: Buffer[];
}

const NULL_JSON = Buffer.from('null');

export function encodeValue(value: unknown): EncodedValue {
  if (value === undefined) return { json: NULL_JSON, blobs: [] };
  if (!containsBytes(value, 0)) {
    return { json: Buffer.from(JSON.stringify(value)), blobs: [] };
  }
  // The bytes are swapped for placeholders before JSON.stringify sees them: a replacer would be
  // too late, since stringify calls Buffer#toJSON first (an array of one number per byte: a
  // 48 MiB value cost seconds and hundreds of MiB that way).
  const blobs: Buffer[] = [];
  return { json: Buffer.from(JSON.stringify(withPlaceholders(value, blobs, 0))), blobs };
}

function withPlaceholders(value: unknown, blobs: Buffer[], depth: number): unknown {
  if (value instanceof Uint8Array) {
    blobs.push(Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    return { $blob: blobs.length - 1 };
  }
  if (value === null || typeof value !== 'object' || !containsBytes(value, depth)) return value;
  if (Array.isArray(value)) return value.map((v) => withPlaceholders(v, blobs, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = withPlaceholders(v, blobs, depth + 1);
  return out;
}

function containsBytes(value: unknown, depth: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (value instanceof Uint8Array) return true;
  if (depth > 64) return false;
  if (Array.isArray(value)) return value.some((v) => containsBytes(v, depth + 1));
  for (const k in value as Record<string, unknown>) {
    if (containsBytes((value as Record<string, unknown>)[k], depth + 1)) return true;
  }
  return false;
}

export function decodeValue(encoded: EncodedValue): unknown {
  if (encoded.json.length === 0) return null;
  const text = encoded.json.toString('utf8');
  if (encoded.blobs.length === 0) return JSON.parse(text);
  const blobs = encoded.blobs;
  return JSON.parse(text, (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const i = o.$blob;
      if (typeof i === 'number' && Object.keys(o).length === 1) {
        const blob = blobs[i];
        if (!blob) throw new SnakepitError('PROTOCOL_ERROR', `value refers to missing blob ${i}`);
        return blob;
      }
    }
    return v;
  });
}

/** Encodes tool arguments, which must be a plain object. */
export function encodeArgs(args: unknown): EncodedValue {
  if (args === undefined || args === null) return { json: Buffer.from('{}'), blobs: [] };
  if (typeof args !== 'object' || Array.isArray(args) || args instanceof Uint8Array) {
    throw new SnakepitError('INVALID_ARGUMENTS', `tool arguments must be an object of named parameters, got ${Array.isArray(args) ? 'an array' : typeof args}`);
  }
  return encodeValue(args);
}
