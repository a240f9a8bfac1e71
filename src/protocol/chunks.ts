// Bytes received in pieces, kept as the list of chunks they arrived in. Reading a message never
// re-concatenates what came before it: a message that lies inside one chunk is a zero-copy slice,
// one that spans chunks is copied exactly once. Growing a buffer (or a string) per chunk instead
// costs time quadratic in the message size (60 MB took 25 s that way).

const EMPTY = Buffer.alloc(0);

export class ChunkList {
  private chunks: Buffer[] = [];
  private head = 0;
  /** Bytes held. */
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The first `n` bytes without consuming them (copies only when they span chunks). */
  peek(n: number): Buffer {
    if (n === 0) return EMPTY;
    const first = this.chunks[this.head]!;
    if (first.length >= n) return first.subarray(0, n);
    return this.copy(n, false);
  }

  /** Removes and returns the first `n` bytes (n <= length). */
  take(n: number): Buffer {
    if (n === 0) return EMPTY;
    const first = this.chunks[this.head]!;
    if (first.length === n) {
      this.drop();
      this.length -= n;
      return first;
    }
    if (first.length > n) {
      this.chunks[this.head] = first.subarray(n);
      this.length -= n;
      return first.subarray(0, n);
    }
    return this.copy(n, true);
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.length = 0;
  }

  private copy(n: number, consume: boolean): Buffer {
    const out = Buffer.allocUnsafe(n);
    let o = 0;
    let i = this.head;
    while (o < n) {
      const c = this.chunks[i]!;
      const want = Math.min(c.length, n - o);
      c.copy(out, o, 0, want);
      o += want;
      if (!consume) {
        i++;
        continue;
      }
      if (want === c.length) this.drop();
      else this.chunks[this.head] = c.subarray(want);
      i = this.head;
    }
    if (consume) this.length -= n;
    return out;
  }

  /** Drops the first chunk; the array is compacted only now and then (shift() is O(n)). */
  private drop(): void {
    this.chunks[this.head] = undefined as unknown as Buffer;
    this.head++;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}
