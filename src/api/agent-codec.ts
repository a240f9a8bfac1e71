// The Agent API's messages (proto/snakepit/v1/agent.proto) encoded by a small schema-driven
// protobuf codec, and the grpc-js service definition built from it. Loading @grpc/proto-loader
// and parsing the .proto cost the daemon ~4 MiB of resident memory and every management command
// ~45 ms; the schemas below are the same field numbers, checked against protobufjs reading
// agent.proto in test/unit/agent-codec.test.ts. Objects use the camelCase field names that
// proto-loader used, with defaults filled in on decode.
import type * as grpc from '@grpc/grpc-js';

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
];
const ExecuteRequest: Schema = [
  { name: 'tool', no: 1, type: 'string' },
  { name: 'argsJson', no: 2, type: 'bytes' },
  { name: 'blobs', no: 3, type: 'bytes', repeated: true },
  { name: 'session', no: 4, type: 'string' },
  { name: 'timeoutMs', no: 5, type: 'uint' },
  { name: 'idempotent', no: 6, type: 'bool' },
  { name: 'pool', no: 7, type: 'string' },
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
  ReloadReply: [{ name: 'replaced', no: 1, type: 'uint' }],
  WatchRequest: [
    { name: 'intervalMs', no: 1, type: 'uint' },
    { name: 'calls', no: 2, type: 'bool' },
  ],
  AgentUpdate: [
    { name: 'statsJson', no: 1, type: 'string', oneof: true },
    { name: 'eventJson', no: 2, type: 'string', oneof: true },
  ],
  RestartWorkerRequest: [{ name: 'worker', no: 1, type: 'string' }],
  RestartWorkerReply: [],
} as const satisfies Record<string, Schema>;

export type MessageName = keyof typeof SCHEMAS;

// ── encoding ─────────────────────────────────────────────────────────────

function varint(out: number[], n: number): void {
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
}

/** Encodes `value` as `schema` into a list of buffers (bytes fields are not copied). */
function encodeInto(schema: Schema, value: Record<string, unknown>, parts: Buffer[]): number {
  let total = 0;
  const head = (no: number, wire: number, len?: number): void => {
    const b: number[] = [];
    varint(b, (no << 3) | wire);
    if (len !== undefined) varint(b, len);
    const buf = Buffer.from(b);
    parts.push(buf);
    total += buf.length;
  };
  for (const f of schema) {
    const v = value[f.name];
    if (v === undefined || v === null) continue;
    const items = f.repeated ? (v as unknown[]) : [v];
    for (const item of items) {
      if (typeof f.type !== 'string') {
        const inner: Buffer[] = [];
        const len = encodeInto(f.type, item as Record<string, unknown>, inner);
        head(f.no, 2, len);
        parts.push(...inner);
        total += len;
        continue;
      }
      switch (f.type) {
        case 'string':
        case 'bytes': {
          const b = typeof item === 'string' ? Buffer.from(item) : Buffer.from(item as Uint8Array);
          if (b.length === 0 && !f.repeated && !f.oneof) break;
          head(f.no, 2, b.length);
          parts.push(b);
          total += b.length;
          break;
        }
        case 'uint':
        case 'int':
        case 'bool': {
          const n = f.type === 'bool' ? (item ? 1 : 0) : Number(item);
          if (n === 0 && !f.repeated && !f.oneof) break;
          const b: number[] = [];
          varint(b, (f.no << 3) | 0);
          varint(b, n);
          const buf = Buffer.from(b);
          parts.push(buf);
          total += buf.length;
          break;
        }
        case 'double': {
          const buf = Buffer.allocUnsafe(8);
          buf.writeDoubleLE(Number(item));
          head(f.no, 1);
          parts.push(buf);
          total += 8;
          break;
        }
      }
    }
  }
  return total;
}

export function encodeMessage(name: MessageName, value: object): Buffer {
  const parts: Buffer[] = [];
  encodeInto(SCHEMAS[name], value as Record<string, unknown>, parts);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

// ── decoding ─────────────────────────────────────────────────────────────

function readVarint(buf: Buffer, pos: { i: number }): number {
  let result = 0;
  let mul = 1;
  for (;;) {
    if (pos.i >= buf.length) throw new Error('truncated varint');
    const b = buf[pos.i++]!;
    result += (b & 0x7f) * mul;
    if (b < 0x80) return result;
    mul *= 128;
  }
}

function decodeFrom(schema: Schema, buf: Buffer): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of schema) {
    if (f.repeated) out[f.name] = [];
    else if (f.oneof) continue;
    else if (typeof f.type !== 'string') out[f.name] = null;
    else out[f.name] = f.type === 'string' ? '' : f.type === 'bytes' ? Buffer.alloc(0) : f.type === 'bool' ? false : 0;
  }
  const pos = { i: 0 };
  while (pos.i < buf.length) {
    const tag = readVarint(buf, pos);
    const no = tag >>> 3;
    const wire = tag & 7;
    const f = schema.find((x) => x.no === no);
    let value: unknown;
    if (wire === 2) {
      const len = readVarint(buf, pos);
      const bytes = buf.subarray(pos.i, pos.i + len);
      if (pos.i + len > buf.length) throw new Error('truncated field');
      pos.i += len;
      if (!f) continue;
      if (typeof f.type !== 'string') value = decodeFrom(f.type, bytes);
      else if (f.type === 'string') value = bytes.toString('utf8');
      else if (f.type === 'bytes') value = bytes;
      else {
        // A packed repeated scalar.
        const p = { i: 0 };
        while (p.i < bytes.length) (out[f.name] as unknown[]).push(readVarint(bytes, p));
        continue;
      }
    } else if (wire === 0) {
      const n = readVarint(buf, pos);
      if (!f) continue;
      value = f.type === 'bool' ? n !== 0 : n;
    } else if (wire === 1) {
      if (f?.type === 'double') value = buf.readDoubleLE(pos.i);
      pos.i += 8;
      if (!f) continue;
    } else if (wire === 5) {
      pos.i += 4;
      continue;
    } else throw new Error(`unsupported wire type ${wire}`);
    if (f.repeated) (out[f.name] as unknown[]).push(value);
    else out[f.name] = value;
  }
  return out;
}

export function decodeMessage<T>(name: MessageName, buf: Buffer): T {
  return decodeFrom(SCHEMAS[name], buf) as T;
}

// ── the service ──────────────────────────────────────────────────────────

const METHODS: Record<string, [MessageName, MessageName, boolean, boolean]> = {
  Execute: ['ExecuteRequest', 'ExecuteReply', false, false],
  ExecuteStream: ['ExecuteRequest', 'StreamReply', false, true],
  Exchange: ['ClientBatch', 'ServerBatch', true, true],
  ListTools: ['ListToolsRequest', 'ListToolsReply', false, false],
  Stats: ['StatsRequest', 'StatsReply', false, false],
  Shutdown: ['ShutdownRequest', 'ShutdownReply', false, false],
  Drain: ['DrainRequest', 'DrainReply', false, false],
  Reload: ['ReloadRequest', 'ReloadReply', false, false],
  WatchEvents: ['WatchRequest', 'AgentUpdate', false, true],
  RestartWorker: ['RestartWorkerRequest', 'RestartWorkerReply', false, false],
};

/** The `snakepit.v1.Agent` service definition for grpc-js servers and clients. */
export function agentServiceDefinition(): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const [method, [req, res, requestStream, responseStream]] of Object.entries(METHODS)) {
    def[method] = {
      path: `/snakepit.v1.Agent/${method}`,
      requestStream,
      responseStream,
      requestSerialize: (v: object) => encodeMessage(req, v),
      requestDeserialize: (b: Buffer) => decodeMessage<object>(req, b),
      responseSerialize: (v: object) => encodeMessage(res, v),
      responseDeserialize: (b: Buffer) => decodeMessage<object>(res, b),
      originalName: method[0]!.toLowerCase() + method.slice(1),
    };
  }
  return def as grpc.ServiceDefinition;
}
