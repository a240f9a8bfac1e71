// A minimal protobuf codec for the Exchange messages of agent.proto (ClientBatch out, ServerBatch
// in). It lets the hot-path client speak gRPC without loading grpc-js and protobufjs, which cost
// ~90 ms of start-up — most of a CLI call. Field numbers must match proto/snakepit/v1/agent.proto;
// test/unit/wire.test.ts checks this codec against protobufjs reading that file.
import type { ErrorInfo } from '../errors.js';
import type { RawRequest } from '../client/calls.js';
import type { EncodedValue } from '../protocol/values.js';
import { messagePrefix } from './grpc-frame.js';

/** A call as the Exchange stream carries it: the request plus its id and whether it streams. */
export interface WireCall extends RawRequest {
  id: number;
  stream: boolean;
}

export type WireReplyItem =
  | { id: number; kind: 'result' | 'chunk'; value: EncodedValue }
  | { id: number; kind: 'end' }
  | { id: number; kind: 'error'; error: ErrorInfo };

// ── encoding ─────────────────────────────────────────────────────────────

class Writer {
  private parts: Buffer[] = [];
  private scratch = Buffer.allocUnsafe(10);
  length = 0;

  varint(n: number): this {
    let i = 0;
    while (n > 0x7f) {
      this.scratch[i++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    this.scratch[i++] = n;
    this.push(Buffer.from(this.scratch.subarray(0, i)));
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }

  bytes(field: number, b: Buffer): this {
    this.tag(field, 2).varint(b.length);
    if (b.length) this.push(b);
    return this;
  }

  string(field: number, s: string | null | undefined): this {
    return s ? this.bytes(field, Buffer.from(s)) : this;
  }

  uint(field: number, n: number | undefined): this {
    return n ? this.tag(field, 0).varint(n) : this;
  }

  bool(field: number, b: boolean): this {
    return b ? this.tag(field, 0).varint(1) : this;
  }

  message(field: number, inner: Writer): this {
    this.tag(field, 2).varint(inner.length);
    for (const p of inner.parts) this.push(p);
    return this;
  }

  private push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }

  finish(): Buffer[] {
    return this.parts;
  }
}

/** Encodes a ClientBatch as a gRPC message (5-byte prefix included), as a list of buffers. */
export function encodeClientBatch(calls: readonly WireCall[], cancels: readonly number[]): Buffer[] {
  const batch = new Writer();
  for (const c of calls) {
    const req = new Writer().string(1, c.tool).bytes(2, c.args.json);
    for (const b of c.args.blobs) req.bytes(3, b);
    req.string(4, c.session).uint(5, c.timeoutMs).bool(6, c.idempotent).string(7, c.pool);
    batch.message(1, new Writer().uint(1, c.id).message(2, req).bool(3, c.stream));
  }
  if (cancels.length) {
    const packed = new Writer();
    for (const id of cancels) packed.varint(id);
    batch.message(2, packed);
  }
  return [messagePrefix(batch.length), ...batch.finish()];
}

// ── decoding ─────────────────────────────────────────────────────────────

class Reader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get more(): boolean {
    return this.pos < this.end;
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
  }

  /** The bounds of a length-delimited field. */
  span(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    this.pos += len;
    if (this.pos > this.end) throw new Error('truncated field');
    return [start, this.pos];
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.span();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

function decodeValue(buf: Buffer, start: number, end: number): EncodedValue {
  const r = new Reader(buf, start, end);
  let json: Buffer = Buffer.alloc(0);
  const blobs: Buffer[] = [];
  while (r.more) {
    const tag = r.varint();
    if (tag === ((1 << 3) | 2)) {
      const [s, e] = r.span();
      json = buf.subarray(s, e);
    } else if (tag === ((2 << 3) | 2)) {
      const [s, e] = r.span();
      blobs.push(buf.subarray(s, e));
    } else r.skip(tag & 7);
  }
  return { json, blobs };
}

function decodeError(buf: Buffer, start: number, end: number): ErrorInfo {
  const r = new Reader(buf, start, end);
  const f: string[] = ['', '', '', ''];
  while (r.more) {
    const tag = r.varint();
    const field = tag >>> 3;
    if ((tag & 7) === 2 && field >= 1 && field <= 4) {
      const [s, e] = r.span();
      f[field - 1] = buf.toString('utf8', s, e);
    } else r.skip(tag & 7);
  }
  return { code: f[0]!, message: f[1]!, ...(f[2] ? { type: f[2] } : {}), ...(f[3] ? { traceback: f[3] } : {}) };
}

function decodeReply(buf: Buffer, start: number, end: number): WireReplyItem | undefined {
  const r = new Reader(buf, start, end);
  let id = 0;
  let item: WireReplyItem | undefined;
  while (r.more) {
    const tag = r.varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 0) id = r.varint();
    else if ((field === 2 || field === 3) && wire === 2) {
      const [s, e] = r.span();
      item = { id: 0, kind: field === 2 ? 'result' : 'chunk', value: decodeValue(buf, s, e) };
    } else if (field === 4 && wire === 0) {
      r.varint();
      item = { id: 0, kind: 'end' };
    } else if (field === 5 && wire === 2) {
      const [s, e] = r.span();
      item = { id: 0, kind: 'error', error: decodeError(buf, s, e) };
    } else r.skip(wire);
  }
  if (item) item.id = id;
  return item;
}

/** Decodes one ServerBatch message body (without the 5-byte gRPC prefix). */
export function decodeServerBatch(buf: Buffer): WireReplyItem[] {
  const r = new Reader(buf);
  const out: WireReplyItem[] = [];
  while (r.more) {
    const tag = r.varint();
    if (tag === ((1 << 3) | 2)) {
      const [s, e] = r.span();
      const reply = decodeReply(buf, s, e);
      if (reply) out.push(reply);
    } else r.skip(tag & 7);
  }
  return out;
}
