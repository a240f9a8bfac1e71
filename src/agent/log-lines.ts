// Splits what a worker prints (stdout / stderr) into log lines. Output arrives in chunks of any
// size, and a line may never end: a `\r` progress bar prints megabytes without a newline. So the
// pieces of the current line are kept in a list and joined once when the line ends (never
// re-concatenated per chunk), and a line is cut at `maxBytes`: the part so far becomes a log line
// and the rest follows as a continuation line. Time is linear in the output and memory is bounded
// by `maxBytes`, whatever a tool prints. Lines are cut at UTF-8 character boundaries.

export interface OutputLine {
  text: string;
  /** True when this line continues the previous one, which was cut at the maximum length. */
  continued: boolean;
}

const NEWLINE = 0x0a;
const CR = 0x0d;

export class LineSplitter {
  private pieces: Buffer[] = [];
  private pending = 0;
  private continuing = false;

  constructor(private readonly maxBytes: number) {
    if (!(maxBytes >= 4)) throw new RangeError(`maxBytes must be at least 4 (one UTF-8 character), got ${maxBytes}`);
  }

  /** Adds output; returns the lines it completed (or cut), in order. */
  push(chunk: Buffer): OutputLine[] {
    const out: OutputLine[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, start);
      let piece = chunk.subarray(start, nl < 0 ? chunk.length : nl);
      while (this.pending + piece.length > this.maxBytes) {
        const cut = this.charBoundary(piece);
        if (cut >= this.pending) {
          const fits = cut - this.pending;
          this.add(piece.subarray(0, fits));
          piece = piece.subarray(fits);
          out.push(this.take(true));
        } else {
          // The character that does not fit began in an earlier chunk: it opens the next line.
          const carry = this.dropTail(this.pending - cut);
          out.push(this.take(true));
          this.add(carry);
        }
      }
      if (nl < 0) {
        // The line goes on in a later chunk: keep a copy, not a view that pins the whole chunk.
        if (piece.length > 0) this.add(Buffer.from(piece));
        break;
      }
      this.add(piece);
      out.push(this.take(false, true));
      start = nl + 1;
    }
    return out;
  }

  /** The output ended: the unfinished line, if any. */
  end(): OutputLine[] {
    return this.pending > 0 ? [this.take(false)] : [];
  }

  /**
   * Where to end a line that would outgrow the maximum: `maxBytes` into the pending bytes plus
   * `piece`, moved back (at most 3 bytes) so that it never splits a UTF-8 character, i.e. never
   * falls before a continuation byte 10xxxxxx. Bytes that are not UTF-8 are cut at the maximum.
   */
  private charBoundary(piece: Buffer): number {
    const at = (i: number): number => (i >= this.pending ? piece[i - this.pending]! : this.pendingByte(i));
    for (let cut = this.maxBytes; cut > this.maxBytes - 4 && cut > 0; cut--) if ((at(cut) & 0xc0) !== 0x80) return cut;
    return this.maxBytes;
  }

  /** Byte `i` of the pending line (only ever a few bytes from its end). */
  private pendingByte(i: number): number {
    let end = this.pending;
    for (let p = this.pieces.length - 1; p >= 0; p--) {
      const piece = this.pieces[p]!;
      if (i >= end - piece.length) return piece[i - (end - piece.length)]!;
      end -= piece.length;
    }
    return 0;
  }

  /** Removes and returns the last `n` pending bytes (a few: a partial character). */
  private dropTail(n: number): Buffer {
    const all = Buffer.concat(this.pieces, this.pending);
    const keep = all.subarray(0, this.pending - n);
    this.pieces = keep.length ? [keep] : [];
    this.pending = keep.length;
    return Buffer.from(all.subarray(this.pending));
  }

  private add(piece: Buffer): void {
    if (piece.length === 0) return;
    this.pieces.push(piece);
    this.pending += piece.length;
  }

  /**
   * The pending pieces as one line. `cut`: the line goes on (the next one is a continuation);
   * `newline`: it ended with \n, so the \r of a \r\n ending is dropped.
   */
  private take(cut: boolean, newline = false): OutputLine {
    let bytes = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces, this.pending);
    if (newline && bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
    const line = { text: bytes.toString('utf8'), continued: this.continuing };
    this.continuing = cut;
    this.pieces = [];
    this.pending = 0;
    return line;
  }
}
