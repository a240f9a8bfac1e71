// Length-prefixed frames of the worker protocol (docs/worker-protocol.md). Parsing works on Buffers
// and slices whole frames off a chunk list, so a large payload is never rebuilt byte by byte and
// JSON bodies pass through the agent as bytes without being decoded.
import { SnakepitError } from '../errors.js';
import { ChunkList } from './chunks.js';

export const FrameKind = {
  READY: 1,
  CALL: 2,
  RESULT: 3,
  ERROR: 4,
  CHUNK: 5,
  END: 6,
  CANCEL: 7,
  PING: 8,
  PONG: 9,
  LOG: 10,
  SHUTDOWN: 11,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export interface Frame {
  kind: number;
  id: number;
  /** Raw UTF-8 JSON of the head, empty when the head is `{}`. */
  head: Buffer;
  /** Raw UTF-8 JSON of the payload, empty when there is none. */
  payload: Buffer;
  blobs: Buffer[];
}

const EMPTY = Buffer.alloc(0);
/** Frames whose payload and blobs together are smaller than this are sent as one buffer. */
const COALESCE_BYTES = 64 * 1024;

/** Encodes one frame as a list of buffers (large payloads and blobs are not copied). */
export function encodeFrame(
  kind: number,
  id: number,
  head: Buffer = EMPTY,
  payload: Buffer = EMPTY,
  blobs: readonly Buffer[] = [],
): Buffer[] {
  let blobBytes = 0;
  for (const b of blobs) blobBytes += 4 + b.length;
  const bodyLen = 1 + 4 + 4 + head.length + 4 + payload.length + blobBytes;
  const fixed = 4 + 1 + 4 + 4 + head.length + 4;
  if (payload.length + blobBytes < COALESCE_BYTES) {
    const out = Buffer.allocUnsafe(4 + bodyLen);
    let o = writeFixed(out, bodyLen, kind, id, head, payload.length);
    o += payload.copy(out, o);
    for (const b of blobs) {
      out.writeUInt32BE(b.length, o);
      o += 4;
      o += b.copy(out, o);
    }
    return [out];
  }
  const first = Buffer.allocUnsafe(fixed);
  writeFixed(first, bodyLen, kind, id, head, payload.length);
  const parts = [first, payload];
  for (const b of blobs) {
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(b.length, 0);
    parts.push(len, b);
  }
  return parts;
}

function writeFixed(out: Buffer, bodyLen: number, kind: number, id: number, head: Buffer, payloadLen: number): number {
  out.writeUInt32BE(bodyLen, 0);
  out.writeUInt8(kind, 4);
  out.writeUInt32BE(id, 5);
  out.writeUInt32BE(head.length, 9);
  head.copy(out, 13);
  const o = 13 + head.length;
  out.writeUInt32BE(payloadLen, o);
  return o + 4;
}

/** Parses a complete frame body (everything after the length prefix). */
export function decodeBody(body: Buffer): Frame {
  if (body.length < 13) throw protocolError(`frame body of ${body.length} bytes is shorter than its fixed header`);
  const kind = body.readUInt8(0);
  const id = body.readUInt32BE(1);
  const headLen = body.readUInt32BE(5);
  let o = 9;
  if (o + headLen + 4 > body.length) throw protocolError(`head length ${headLen} overruns the frame`);
  const head = body.subarray(o, o + headLen);
  o += headLen;
  const payloadLen = body.readUInt32BE(o);
  o += 4;
  if (o + payloadLen > body.length) throw protocolError(`payload length ${payloadLen} overruns the frame`);
  const payload = body.subarray(o, o + payloadLen);
  o += payloadLen;
  const blobs: Buffer[] = [];
  while (o < body.length) {
    if (o + 4 > body.length) throw protocolError('truncated blob length');
    const len = body.readUInt32BE(o);
    o += 4;
    if (o + len > body.length) throw protocolError(`blob length ${len} overruns the frame`);
    blobs.push(body.subarray(o, o + len));
    o += len;
  }
  return { kind, id, head, payload, blobs };
}

function protocolError(message: string): SnakepitError {
  return new SnakepitError('PROTOCOL_ERROR', `malformed frame: ${message}`);
}

/**
 * Incremental frame reader. Incoming chunks are kept in a list (chunks.ts); a frame that lies
 * inside one chunk is returned as a zero-copy slice, one that spans chunks is copied once.
 */
export class FrameDecoder {
  private readonly chunks = new ChunkList();

  constructor(private readonly maxFrameBytes: number) {}

  /** Adds bytes and returns every frame now complete. Throws `PROTOCOL_ERROR`/`PAYLOAD_TOO_LARGE`. */
  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    const frames: Frame[] = [];
    while (this.chunks.length >= 4) {
      const len = this.chunks.peek(4).readUInt32BE(0);
      if (len > this.maxFrameBytes) {
        throw new SnakepitError('PAYLOAD_TOO_LARGE', `frame of ${len} bytes exceeds the limit of ${this.maxFrameBytes} bytes`);
      }
      if (this.chunks.length < 4 + len) break;
      this.chunks.take(4);
      frames.push(decodeBody(this.chunks.take(len)));
    }
    return frames;
  }
}
