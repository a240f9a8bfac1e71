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
  // Bytes are swapped for {"$blob": i} before stringifying, in a copy of the containers that
  // hold them: a replacer would come too late, after JSON.stringify already called Buffer's
  // toJSON, which builds an array of every byte (seconds and gigabytes for a 48 MiB blob).
  const blobs: Buffer[] = [];
  return { json: Buffer.from(JSON.stringify(withBlobRefs(value, blobs, 0))), blobs };
}

/** `value` with every Uint8Array replaced by a blob reference (pushed onto `blobs`). */
function withBlobRefs(value: unknown, blobs: Buffer[], depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) {
    blobs.push(Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    return { $blob: blobs.length - 1 };
  }
  // As JSON.stringify would: an object with its own toJSON (a Date) is what toJSON makes it.
  if (depth > 64 || typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
  if (Array.isArray(value)) return value.map((v) => withBlobRefs(v, blobs, depth + 1));
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) out[k] = withBlobRefs((value as Record<string, unknown>)[k], blobs, depth + 1);
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
