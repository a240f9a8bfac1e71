// gRPC's length-prefixed message framing (a compressed flag byte, then the body length as a
// big-endian u32), the one place that reads and writes it: the local lane server, the Exchange
// client over the lane and over HTTP/2. A peer's declared length is checked before anything is
// buffered for it, and bodies are cut from a chunk list (linear in the bytes received).
import { SnakepitError } from '../errors.js';
import { ChunkList } from '../protocol/chunks.js';

export const PREFIX_BYTES = 5;
/** Room for protobuf framing around a payload of `maxPayloadBytes` in one message. */
export const MESSAGE_SLACK_BYTES = 64 * 1024;

/** gRPC's 5-byte message prefix: not compressed, then the body's length. */
export function messagePrefix(length: number): Buffer {
  const prefix = Buffer.allocUnsafe(PREFIX_BYTES);
  prefix.writeUInt8(0, 0);
  prefix.writeUInt32BE(length, 1);
  return prefix;
}

/** Incremental reader of length-prefixed messages. */
export class MessageReader {
  private readonly chunks = new ChunkList();
  /** Length of the message whose prefix was read, or -1 while waiting for a prefix. */
  private want = -1;

  constructor(private readonly maxMessageBytes: number) {}

  /** Bytes buffered of a message not complete yet. */
  get pending(): number {
    return this.chunks.length;
  }

  /** Body length the peer announced for the message being read, or -1. */
  get announced(): number {
    return this.want;
  }

  /**
   * Adds bytes and returns every message body now complete. Throws `PAYLOAD_TOO_LARGE` for a
   * declared length above the limit and `PROTOCOL_ERROR` for a compressed message (never
   * negotiated here); the connection is unusable after either.
   */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    const out: Buffer[] = [];
    for (;;) {
      if (this.want < 0) {
        if (this.chunks.length < PREFIX_BYTES) return out;
        const prefix = this.chunks.take(PREFIX_BYTES);
        if (prefix[0] !== 0) throw new SnakepitError('PROTOCOL_ERROR', `compressed message (flag ${prefix[0]}) on a connection that never negotiated compression`);
        const len = prefix.readUInt32BE(1);
        if (len > this.maxMessageBytes) throw new SnakepitError('PAYLOAD_TOO_LARGE', `message of ${len} bytes exceeds the limit of ${this.maxMessageBytes} bytes`);
        this.want = len;
      }
      if (this.chunks.length < this.want) return out;
      out.push(this.want === 0 ? Buffer.alloc(0) : this.chunks.take(this.want));
      this.want = -1;
    }
  }
}
