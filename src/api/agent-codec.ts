// The Agent API's messages (proto/snakepit/v1/agent.proto) encoded by a small schema-driven
// protobuf codec, and the grpc-js service definition built from it. Loading @grpc/proto-loader
// and parsing the .proto cost the daemon ~4 MiB of resident memory and every management command
// ~45 ms; the schemas below are the same field numbers, checked against protobufjs reading
// agent.proto in test/unit/agent-codec.test.ts. Objects use the camelCase field names that
// proto-loader used, with defaults filled in on decode.
import type * as grpc from '@grpc/grpc-js';
import type { RawRequest } from '../client/calls.js';
import type { ErrorInfo } from '../errors.js';
import type { EncodedValue } from '../protocol/values.js';
import { PREFIX_BYTES } from './grpc-frame.js';
import type { WireServerBatch } from './proto.js';

type Scalar = 'string' | 'bytes' | 'uint' | 'int' | 'bool' | 'double';
interface Field {
  name: string;
  no: number;
  type: Scalar | Schema;
  repeated?: boolean;
  /** Members of a oneof are left out of decoded objects when absent (instead of defaulted). */
  oneof?: boolean;
}
type Schema = readonly Field[];

const Value: Schema = [
  { name: 'json', no: 1, type: 'bytes' },
  { name: 'blobs', no: 2, type: 'bytes', repeated: true },
];
const ErrorMsg: Schema = [
  { name: 'code', no: 1, type: 'string' },
  { name: 'message', no: 2, type: 'string' },
  { name: 'type', no: 3, type: 'string' },
  { name: 'traceback', no: 4, type: 'string' },
  { name: 'agent', no: 5, type: 'string' },
];
const ExecuteRequest: Schema = [
  { name: 'tool', no: 1, type: 'string' },
  { name: 'argsJson', no: 2, type: 'bytes' },
  { name: 'blobs', no: 3, type: 'bytes', repeated: true },
  { name: 'session', no: 4, type: 'string' },
  { name: 'timeoutMs', no: 5, type: 'uint' },
  { name: 'idempotent', no: 6, type: 'bool' },
  { name: 'pool', no: 7, type: 'string' },
  { name: 'require', no: 8, type: 'string', repeated: true },
];
const Param: Schema = [
  { name: 'name', no: 1, type: 'string' },
  { name: 'type', no: 2, type: 'string' },
  { name: 'required', no: 3, type: 'bool' },
  { name: 'defaultJson', no: 4, type: 'string' },
];
const Tool: Schema = [
  { name: 'name', no: 1, type: 'string' },
  { name: 'doc', no: 2, type: 'string' },
  { name: 'params', no: 3, type: Param, repeated: true },
  { name: 'stream', no: 4, type: 'bool' },
  { name: 'pool', no: 5, type: 'string' },
  { name: 'agents', no: 6, type: 'string', repeated: true },
];
const Call: Schema = [
  { name: 'id', no: 1, type: 'uint' },
  { name: 'request', no: 2, type: ExecuteRequest },
  { name: 'stream', no: 3, type: 'bool' },
];
const Reply: Schema = [
  { name: 'id', no: 1, type: 'uint' },
  { name: 'result', no: 2, type: Value, oneof: true },
  { name: 'chunk', no: 3, type: Value, oneof: true },
  { name: 'end', no: 4, type: 'bool', oneof: true },
  { name: 'error', no: 5, type: ErrorMsg, oneof: true },
];

export const SCHEMAS = {
  ExecuteRequest,
  ExecuteReply: [
    { name: 'result', no: 1, type: Value, oneof: true },
    { name: 'error', no: 2, type: ErrorMsg, oneof: true },
  ],
  StreamReply: [
    { name: 'chunk', no: 1, type: Value, oneof: true },
    { name: 'end', no: 2, type: 'bool', oneof: true },
    { name: 'error', no: 3, type: ErrorMsg, oneof: true },
  ],
  ClientBatch: [
    { name: 'calls', no: 1, type: Call, repeated: true },
    { name: 'cancels', no: 2, type: 'uint', repeated: true },
  ],
  ServerBatch: [{ name: 'replies', no: 1, type: Reply, repeated: true }],
  ListToolsRequest: [{ name: 'pool', no: 1, type: 'string' }],
  ListToolsReply: [{ name: 'tools', no: 1, type: Tool, repeated: true }],
  StatsRequest: [],
  StatsReply: [{ name: 'json', no: 1, type: 'string' }],
  ShutdownRequest: [{ name: 'graceMs', no: 1, type: 'uint' }],
  ShutdownReply: [{ name: 'pid', no: 1, type: 'int' }],
  DrainRequest: [{ name: 'deadlineMs', no: 1, type: 'uint' }],
  DrainReply: [
    { name: 'drained', no: 1, type: 'bool' },
    { name: 'pid', no: 2, type: 'int' },
  ],
  ReloadRequest: [{ name: 'pool', no: 1, type: 'string' }],
  ReloadReply: [
    { name: 'replaced', no: 1, type: 'uint' },
    { name: 'changes', no: 2, type: 'string', repeated: true },
  ],
  ScaleRequest: [
    { name: 'pool', no: 1, type: 'string' },
    { name: 'size', no: 2, type: 'uint' },
  ],
  ScaleReply: [
    { name: 'pool', no: 1, type: 'string' },
    { name: 'previous', no: 2, type: 'uint' },
    { name: 'size', no: 3, type: 'uint' },
  ],
  WatchRequest: [
    { name: 'intervalMs', no: 1, type: 'uint' },
    { name: 'calls', no: 2, type: 'bool' },
  ],
  AgentUpdate: [
    { name: 'statsJson', no: 1, type: 'string', oneof: true },
    { name: 'eventJson', no: 2, type: 'string', oneof: true },
    { name: 'lagged', no: 3, type: 'uint', oneof: true },
  ],
  RestartWorkerRequest: [{ name: 'worker', no: 1, type: 'string' }],
  RestartWorkerReply: [],
  HeartbeatRequest: [{ name: 'intervalMs', no: 1, type: 'uint' }],
  ClusterRequest: [
    { name: 'op', no: 1, type: 'string' },
    { name: 'agent', no: 2, type: 'string' },
    { name: 'count', no: 3, type: 'uint' },
    { name: 'deadlineMs', no: 4, type: 'uint' },
  ],
  ClusterReply: [{ name: 'json', no: 1, type: 'string' }],
  Heartbeat: [
    { name: 'agent', no: 1, type: 'string' },
    { name: 'seq', no: 2, type: 'uint' },
    { name: 'inFlight', no: 3, type: 'uint' },
    { name: 'queueDepth', no: 4, type: 'uint' },
    { name: 'capacity', no: 5, type: 'uint' },
    { name: 'sessions', no: 6, type: 'uint' },
    { name: 'serving', no: 7, type: 'bool' },
  ],
  // grpc.health.v1 (proto/grpc/health/v1/health.proto); `status` is the ServingStatus enum.
  HealthCheckRequest: [{ name: 'service', no: 1, type: 'string' }],
  HealthCheckResponse: [{ name: 'status', no: 1, type: 'int' }],
} as const satisfies Record<string, Schema>;

export type MessageName = keyof typeof SCHEMAS;

// ── encoding ─────────────────────────────────────────────────────────────
// Two passes: the first measures every field (and records each nested message's length, in
// visiting order), the second writes into one buffer of exactly that size. One allocation per
// message however many fields it has: a batch of 5,000 replies used to cost ~25,000 small
// buffers and a concat.

function varintSize(n: number): number {
  if (n < 0) return 10;
  let size = 1;
  while (n > 0x7f) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Writes a varint; a negative int32 goes as its 64-bit two's complement (10 bytes). */
function writeVarint(buf: Buffer, pos: number, n: number): number {
  if (n < 0) {
    let big = BigInt.asUintN(64, BigInt(Math.trunc(n)));
    while (big > 0x7fn) {
      buf[pos++] = Number(big & 0x7fn) | 0x80;
      big >>= 7n;
    }
    buf[pos++] = Number(big);
    return pos;
  }
  while (n > 0x7f) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

function wireNumber(f: Field, item: unknown): number {
  return f.type === 'bool' ? (item ? 1 : 0) : Number(item);
}

/** Whether a scalar is left out (proto3 leaves defaults out, except in repeated fields and oneofs). */
function omitted(f: Field, item: unknown): boolean {
  if (f.repeated || f.oneof) return false;
  if (f.type === 'string') return (item as string).length === 0;
  if (f.type === 'bytes') return (item as Uint8Array).length === 0;
  if (f.type === 'double') return false;
  return Number(item) === 0 || item === false;
}

function measure(schema: Schema, value: Record<string, unknown>, nested: number[]): number {
  let total = 0;
  for (const f of schema) {
    const v = value[f.name];
    if (v === undefined || v === null) continue;
    const tag = varintSize(f.no << 3);
    for (const item of f.repeated ? (v as unknown[]) : [v]) {
      const raw = rawOf(item);
      if (raw) {
        total += tag + varintSize(raw.length) + raw.length;
      } else if (typeof f.type !== 'string') {
        const at = nested.length;
        nested.push(0);
        const len = measure(f.type, item as Record<string, unknown>, nested);
        nested[at] = len;
        total += tag + varintSize(len) + len;
      } else if (omitted(f, item)) {
        continue;
      } else if (f.type === 'string') {
        const len = Buffer.byteLength(item as string);
        total += tag + varintSize(len) + len;
      } else if (f.type === 'bytes') {
        const len = (item as Uint8Array).length;
        total += tag + varintSize(len) + len;
      } else if (f.type === 'double') {
        total += tag + 8;
      } else {
        total += tag + varintSize(wireNumber(f, item));
      }
    }
  }
  return total;
}

function write(schema: Schema, value: Record<string, unknown>, buf: Buffer, pos: number, nested: number[], cursor: { i: number }): number {
  for (const f of schema) {
    const v = value[f.name];
    if (v === undefined || v === null) continue;
    for (const item of f.repeated ? (v as unknown[]) : [v]) {
      const raw = rawOf(item);
      if (raw) {
        pos = writeVarint(buf, writeVarint(buf, pos, (f.no << 3) | 2), raw.length);
        buf.set(raw, pos);
        pos += raw.length;
      } else if (typeof f.type !== 'string') {
        const len = nested[cursor.i++]!;
        pos = writeVarint(buf, writeVarint(buf, pos, (f.no << 3) | 2), len);
        pos = write(f.type, item as Record<string, unknown>, buf, pos, nested, cursor);
      } else if (omitted(f, item)) {
        continue;
      } else if (f.type === 'string') {
        const s = item as string;
        pos = writeVarint(buf, writeVarint(buf, pos, (f.no << 3) | 2), Buffer.byteLength(s));
        pos += buf.write(s, pos, 'utf8');
      } else if (f.type === 'bytes') {
        const b = item as Uint8Array;
        pos = writeVarint(buf, writeVarint(buf, pos, (f.no << 3) | 2), b.length);
        buf.set(b, pos);
        pos += b.length;
      } else if (f.type === 'double') {
        pos = writeVarint(buf, pos, (f.no << 3) | 1);
        pos = buf.writeDoubleLE(Number(item), pos);
      } else {
        pos = writeVarint(buf, writeVarint(buf, pos, (f.no << 3) | 0), wireNumber(f, item));
      }
    }
  }
  return pos;
}

export function encodeMessage(name: MessageName, value: object): Buffer {
  return encodeAt(name, value, 0);
}

/** `value` as one gRPC message: the 5-byte prefix, then the body, in one buffer. */
export function encodeFramed(name: MessageName, value: object): Buffer {
  const buf = encodeAt(name, value, PREFIX_BYTES);
  buf.writeUInt8(0, 0);
  buf.writeUInt32BE(buf.length - PREFIX_BYTES, 1);
  return buf;
}

function encodeAt(name: MessageName, value: object, offset: number): Buffer {
  const schema = SCHEMAS[name];
  const nested: number[] = [];
  const size = measure(schema, value as Record<string, unknown>, nested);
  const buf = Buffer.allocUnsafe(offset + size);
  const end = write(schema, value as Record<string, unknown>, buf, offset, nested, { i: 0 });
  if (end !== offset + size) throw new Error(`encoding ${name}: wrote ${end - offset} of ${size} bytes`);
  return buf;
}

// ── decoding ─────────────────────────────────────────────────────────────
// Every byte here comes from a peer: a field must arrive with its declared wire type (a string
// sent as a varint is a malformed message, not a number where a string belongs), varints are at
// most 10 bytes, uint32 fields hold at most 2^32 - 1, and no length runs past the message.

/** A message that does not parse as its schema; the text says which field and why. */
export class MalformedMessage extends Error {
  constructor(
    readonly messageName: string,
    readonly reason: string,
  ) {
    super(`malformed ${messageName}: ${reason}`);
  }
}

const WIRE_OF: Record<Scalar, number> = { string: 2, bytes: 2, uint: 0, int: 0, bool: 0, double: 1 };
const UINT32_MAX = 0xffffffff;

/** Reads a varint at pos.i, never past pos.end. */
function readVarint(buf: Buffer, pos: { i: number; end: number }): number {
  if (pos.i < pos.end) {
    const first = buf[pos.i]!;
    if (first < 0x80) {
      pos.i++;
      return first;
    }
  }
  let result = 0;
  let mul = 1;
  for (let n = 0; n < 10; n++) {
    if (pos.i >= pos.end) throw new Error('truncated varint');
    const b = buf[pos.i++]!;
    result += (b & 0x7f) * mul;
    if (b < 0x80) return result;
    mul *= 128;
  }
  throw new Error('varint longer than 10 bytes');
}

function scalarValue(f: Field & { type: Scalar }, n: number): unknown {
  if (f.type === 'bool') return n !== 0;
  if (f.type === 'uint' && n > UINT32_MAX) throw new Error(`field '${f.name}' holds ${n}, above the uint32 range`);
  return n;
}

const EMPTY_BYTES = Buffer.alloc(0);

/**
 * The bytes a decoded request or value came in as. A router forwards calls and answers as
 * bytes: what it decoded (and checked) is written out again as it arrived, not re-encoded field
 * by field. Only on objects straight from the decoder: anything built or changed has none.
 */
export const RAW = Symbol('snakepit.raw');
/** The schemas whose decoded objects keep their bytes (a call's request, a result or chunk). */
const KEEPS_RAW = new Set<Schema>([ExecuteRequest, Value]);

function rawOf(item: unknown): Buffer | undefined {
  return typeof item === 'object' && item !== null ? ((item as { [RAW]?: Buffer })[RAW]) : undefined;
}

/** A schema ready for decoding: its fields by number, and the defaults a decoded object starts from. */
interface Compiled {
  byNo: Array<Field | undefined>;
  /** Fields filled with defaults on decode (repeated: a fresh list; oneof members: left out). */
  defaults: Field[];
}
const compiled = new WeakMap<Schema, Compiled>();

function compile(schema: Schema): Compiled {
  let c = compiled.get(schema);
  if (!c) {
    const byNo: Array<Field | undefined> = [];
    for (const f of schema) byNo[f.no] = f;
    c = { byNo, defaults: schema.filter((f) => !f.oneof || f.repeated) };
    compiled.set(schema, c);
  }
  return c;
}

function defaultOf(f: Field): unknown {
  if (f.repeated) return [];
  if (typeof f.type !== 'string') return null;
  return f.type === 'string' ? '' : f.type === 'bytes' ? EMPTY_BYTES : f.type === 'bool' ? false : 0;
}

/** Decodes buf[start, end) as `schema` (nested messages are read in place, not sliced). */
function decodeFrom(schema: Schema, buf: Buffer, start = 0, end = buf.length): Record<string, unknown> {
  const { byNo, defaults } = compile(schema);
  const out: Record<string, unknown> = {};
  for (const f of defaults) out[f.name] = defaultOf(f);
  const pos = { i: start, end };
  while (pos.i < end) {
    const tag = readVarint(buf, pos);
    const no = tag >>> 3;
    const wire = tag & 7;
    if (no === 0) throw new Error('field number 0');
    const f = byNo[no];
    if (!f) {
      skipField(buf, pos, wire);
      continue;
    }
    const expected = typeof f.type === 'string' ? WIRE_OF[f.type] : 2;
    const packed = wire === 2 && f.repeated === true && expected === 0;
    if (wire !== expected && !packed) throw new Error(`field '${f.name}' (${no}) has wire type ${wire}, expected ${expected}`);
    let value: unknown;
    if (wire === 2) {
      const len = readVarint(buf, pos);
      const from = pos.i;
      const to = from + len;
      if (to > end) throw new Error(`field '${f.name}' (${no}) runs past the end of the message`);
      pos.i = to;
      if (typeof f.type !== 'string') {
        value = decodeFrom(f.type, buf, from, to);
        if (KEEPS_RAW.has(f.type)) (value as { [RAW]?: Buffer })[RAW] = buf.subarray(from, to);
      }
      else if (f.type === 'string') value = buf.toString('utf8', from, to);
      else if (f.type === 'bytes') value = buf.subarray(from, to);
      else {
        const p = { i: from, end: to };
        const list = out[f.name] as unknown[];
        while (p.i < to) list.push(scalarValue(f as Field & { type: Scalar }, readVarint(buf, p)));
        continue;
      }
    } else if (wire === 0) {
      value = scalarValue(f as Field & { type: Scalar }, readVarint(buf, pos));
    } else {
      if (pos.i + 8 > end) throw new Error(`field '${f.name}' (${no}) runs past the end of the message`);
      value = buf.readDoubleLE(pos.i);
      pos.i += 8;
    }
    if (f.repeated) (out[f.name] as unknown[]).push(value);
    else out[f.name] = value;
  }
  return out;
}

/** Skips a field this schema does not know (a newer peer's); groups (3, 4) and 6, 7 are malformed. */
function skipField(buf: Buffer, pos: { i: number; end: number }, wire: number): void {
  if (wire === 0) readVarint(buf, pos);
  else if (wire === 2) pos.i += readVarint(buf, pos);
  else if (wire === 1) pos.i += 8;
  else if (wire === 5) pos.i += 4;
  else throw new Error(`unsupported wire type ${wire}`);
  if (pos.i > pos.end) throw new Error('unknown field runs past the end of the message');
}

/** Decodes `buf` as message `name`; throws `MalformedMessage` naming what is wrong. */
export function decodeMessage<T>(name: MessageName, buf: Buffer): T {
  try {
    return decodeFrom(SCHEMAS[name], buf) as T;
  } catch (err) {
    throw new MalformedMessage(name, (err as Error).message);
  }
}

// ── the Exchange stream, as the client sees it ────────────────────────────

/** A call as the Exchange stream carries it: the request plus its id and whether it streams. */
export interface WireCall extends RawRequest {
  id: number;
  stream: boolean;
  /** The request's bytes as a router received them: written as they are (see RAW). */
  wire?: Buffer | undefined;
}

export type WireReplyItem =
  | { id: number; kind: 'result' | 'chunk'; value: EncodedValue }
  | { id: number; kind: 'end' }
  | { id: number; kind: 'error'; error: ErrorInfo };

/** Labels as the wire carries them: "key=value" strings. */
export function labelList(labels: Readonly<Record<string, string>> | undefined): string[] {
  return labels ? Object.entries(labels).map(([k, v]) => `${k}=${v}`) : [];
}

/** "key=value" strings back into labels; an entry without "=" requires the key with an empty value. */
export function labelRecord(list: readonly string[]): Record<string, string> | undefined {
  if (list.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq < 0) out[item] = '';
    else out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** A ClientBatch as one gRPC message (5-byte prefix included). */
export function encodeClientBatch(calls: readonly WireCall[], cancels: readonly number[]): Buffer {
  for (const c of calls) if (!c.wire) return encodeClientBatchBySchema(calls, cancels);
  // Every request goes as the bytes it arrived in (a router's first attempts): the same message
  // as the schema path writes, without building an object tree per call to walk it.
  let size = 0;
  for (const c of calls) {
    const body = callBodySize(c);
    size += 1 + varintSize(body) + body;
  }
  for (const id of cancels) size += 1 + varintSize(id);
  const buf = Buffer.allocUnsafe(PREFIX_BYTES + size);
  buf[0] = 0;
  buf.writeUInt32BE(size, 1);
  let pos = PREFIX_BYTES;
  for (const c of calls) {
    const wire = c.wire!;
    pos = writeVarint(buf, writeVarint(buf, pos, (1 << 3) | 2), callBodySize(c)); // calls
    if (c.id !== 0) pos = writeVarint(buf, writeVarint(buf, pos, (1 << 3) | 0), c.id); // id
    pos = writeVarint(buf, writeVarint(buf, pos, (2 << 3) | 2), wire.length); // request
    buf.set(wire, pos);
    pos += wire.length;
    if (c.stream) pos = writeVarint(buf, writeVarint(buf, pos, (3 << 3) | 0), 1); // stream
  }
  for (const id of cancels) pos = writeVarint(buf, writeVarint(buf, pos, (2 << 3) | 0), id); // cancels
  if (pos !== buf.length) throw new Error(`encoding ClientBatch: wrote ${pos} of ${buf.length} bytes`);
  return buf;
}

function callBodySize(c: WireCall): number {
  const wire = c.wire!;
  return (c.id !== 0 ? 1 + varintSize(c.id) : 0) + 1 + varintSize(wire.length) + wire.length + (c.stream ? 2 : 0);
}

/** encodeClientBatch through the schema: any call may be built field by field. @internal (exported for the equivalence test) */
export function encodeClientBatchBySchema(calls: readonly WireCall[], cancels: readonly number[]): Buffer {
  return encodeFramed('ClientBatch', {
    calls: calls.map((c) => ({
      id: c.id,
      request: c.wire
        ? { [RAW]: c.wire }
        : { tool: c.tool, argsJson: c.args.json, blobs: c.args.blobs, session: c.session ?? '', timeoutMs: c.timeoutMs ?? 0, idempotent: c.idempotent, pool: c.pool ?? '', require: labelList(c.require) },
      stream: c.stream,
    })),
    cancels,
  });
}

/** What a ServerBatch holds: one reply per item (exactly one of result, chunk, end, error). */
export interface WireReplyOut {
  id: number;
  result?: EncodedValue;
  chunk?: EncodedValue;
  end?: boolean;
  error?: object;
}

/** A ServerBatch as one gRPC message (5-byte prefix included), or its body alone (`framed` false). */
export function encodeServerBatch(replies: readonly WireReplyOut[], framed = true): Buffer {
  // Results, chunks and ends (nearly every batch) by hand; a batch with an error by the schema.
  let size = 0;
  for (const r of replies) {
    if (r.error) return framed ? encodeFramed('ServerBatch', { replies }) : encodeMessage('ServerBatch', { replies });
    const body = replyBodySize(r);
    size += 1 + varintSize(body) + body;
  }
  const offset = framed ? PREFIX_BYTES : 0;
  const buf = Buffer.allocUnsafe(offset + size);
  if (framed) {
    buf[0] = 0;
    buf.writeUInt32BE(size, 1);
  }
  let pos = offset;
  for (const r of replies) {
    pos = writeVarint(buf, writeVarint(buf, pos, (1 << 3) | 2), replyBodySize(r)); // replies
    if (r.id !== 0) pos = writeVarint(buf, writeVarint(buf, pos, (1 << 3) | 0), r.id); // id
    const value = r.result ?? r.chunk;
    if (value) {
      pos = writeVarint(buf, writeVarint(buf, pos, ((r.result ? 2 : 3) << 3) | 2), valueBodySize(value)); // result | chunk
      pos = writeValue(buf, pos, value);
    } else if (r.end !== undefined) pos = writeVarint(buf, writeVarint(buf, pos, (4 << 3) | 0), r.end ? 1 : 0); // end
  }
  if (pos !== buf.length) throw new Error(`encoding ServerBatch: wrote ${pos} of ${buf.length} bytes`);
  return buf;
}

function replyBodySize(r: WireReplyOut): number {
  let n = r.id !== 0 ? 1 + varintSize(r.id) : 0;
  const value = r.result ?? r.chunk;
  if (value) {
    const len = valueBodySize(value);
    n += 1 + varintSize(len) + len;
  } else if (r.end !== undefined) n += 2;
  return n;
}

function valueBodySize(v: EncodedValue): number {
  const raw = rawOf(v);
  if (raw) return raw.length;
  let n = v.json.length > 0 ? 1 + varintSize(v.json.length) + v.json.length : 0;
  for (const b of v.blobs) n += 1 + varintSize(b.length) + b.length;
  return n;
}

function writeValue(buf: Buffer, pos: number, v: EncodedValue): number {
  const raw = rawOf(v);
  if (raw) {
    buf.set(raw, pos);
    return pos + raw.length;
  }
  if (v.json.length > 0) {
    pos = writeVarint(buf, writeVarint(buf, pos, (1 << 3) | 2), v.json.length);
    buf.set(v.json, pos);
    pos += v.json.length;
  }
  for (const b of v.blobs) {
    pos = writeVarint(buf, writeVarint(buf, pos, (2 << 3) | 2), b.length);
    buf.set(b, pos);
    pos += b.length;
  }
  return pos;
}

/** The replies of one ServerBatch message body (without its prefix); a reply with no item is left out. */
export function decodeServerBatch(body: Buffer): WireReplyItem[] {
  const out: WireReplyItem[] = [];
  for (const r of decodeMessage<WireServerBatch>('ServerBatch', body).replies) {
    if (r.result) out.push({ id: r.id, kind: 'result', value: r.result });
    else if (r.chunk) out.push({ id: r.id, kind: 'chunk', value: r.chunk });
    else if (r.end !== undefined) out.push({ id: r.id, kind: 'end' });
    else if (r.error) {
      const e = r.error;
      out.push({ id: r.id, kind: 'error', error: { code: e.code, message: e.message, ...(e.type ? { type: e.type } : {}), ...(e.traceback ? { traceback: e.traceback } : {}), ...(e.agent ? { agent: e.agent } : {}) } });
    }
  }
  return out;
}

// ── the services ─────────────────────────────────────────────────────────

type Methods = Record<string, [MessageName, MessageName, boolean, boolean]>;

const AGENT_METHODS: Methods = {
  Execute: ['ExecuteRequest', 'ExecuteReply', false, false],
  ExecuteStream: ['ExecuteRequest', 'StreamReply', false, true],
  Exchange: ['ClientBatch', 'ServerBatch', true, true],
  ListTools: ['ListToolsRequest', 'ListToolsReply', false, false],
  Stats: ['StatsRequest', 'StatsReply', false, false],
  Shutdown: ['ShutdownRequest', 'ShutdownReply', false, false],
  Drain: ['DrainRequest', 'DrainReply', false, false],
  Reload: ['ReloadRequest', 'ReloadReply', false, false],
  Scale: ['ScaleRequest', 'ScaleReply', false, false],
  WatchEvents: ['WatchRequest', 'AgentUpdate', false, true],
  RestartWorker: ['RestartWorkerRequest', 'RestartWorkerReply', false, false],
  Heartbeats: ['HeartbeatRequest', 'Heartbeat', false, true],
  ClusterControl: ['ClusterRequest', 'ClusterReply', false, false],
};

const HEALTH_METHODS: Methods = {
  Check: ['HealthCheckRequest', 'HealthCheckResponse', false, false],
  Watch: ['HealthCheckRequest', 'HealthCheckResponse', false, true],
};

/**
 * A grpc-js service definition over this codec. A server gets a request that does not parse as
 * a `MalformedMessage` instance (not a thrown error, which grpc-js would answer with INTERNAL):
 * handlers answer it with INVALID_ARGUMENT naming the field.
 */
function serviceDefinition(service: string, methods: Methods): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const [method, [req, res, requestStream, responseStream]] of Object.entries(methods)) {
    def[method] = {
      path: `/${service}/${method}`,
      requestStream,
      responseStream,
      requestSerialize: (v: object) => encodeMessage(req, v),
      requestDeserialize: (b: Buffer) => {
        try {
          return decodeMessage<object>(req, b);
        } catch (err) {
          return err as MalformedMessage;
        }
      },
      responseSerialize: res === 'ServerBatch' ? (v: object) => encodeServerBatch((v as { replies: WireReplyOut[] }).replies, false) : (v: object) => encodeMessage(res, v),
      responseDeserialize: (b: Buffer) => decodeMessage<object>(res, b),
      originalName: method[0]!.toLowerCase() + method.slice(1),
    };
  }
  return def as grpc.ServiceDefinition;
}

/** The `snakepit.v1.Agent` service definition for grpc-js servers and clients. */
export function agentServiceDefinition(): grpc.ServiceDefinition {
  return serviceDefinition('snakepit.v1.Agent', AGENT_METHODS);
}

/** The standard `grpc.health.v1.Health` service (Check and Watch). */
export function healthServiceDefinition(): grpc.ServiceDefinition {
  return serviceDefinition('grpc.health.v1.Health', HEALTH_METHODS);
}
