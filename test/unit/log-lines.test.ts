// LineSplitter: worker output → log lines, linear and bounded whatever a tool prints.
import { describe, expect, it } from 'vitest';
import { LineSplitter, type OutputLine } from '../../src/agent/log-lines.js';

const feed = (max: number, chunks: Array<string | Buffer>): OutputLine[] => {
  const s = new LineSplitter(max);
  return [...chunks.flatMap((c) => s.push(Buffer.isBuffer(c) ? c : Buffer.from(c))), ...s.end()];
};
const texts = (lines: OutputLine[]): string[] => lines.map((l) => (l.continued ? `+${l.text}` : l.text));

describe('LineSplitter', () => {
  it('splits on newlines across chunks and keeps the unfinished line for the end', () => {
    expect(texts(feed(100, ['a\nb', 'c\n', '\nd', 'e']))).toEqual(['a', 'bc', '', 'de']);
  });

  it('drops the \\r of a \\r\\n line ending', () => {
    expect(texts(feed(100, ['a\r\nb\r', '\n']))).toEqual(['a', 'b']);
  });

  it('cuts a line at the maximum and logs the rest as continuations, never holding more', () => {
    expect(texts(feed(4, ['abcdefghij\nxy']))).toEqual(['abcd', '+efgh', '+ij', 'xy']);
    expect(texts(feed(4, ['ab', 'cd', 'ef', '\n']))).toEqual(['abcd', '+ef']);
  });

  it('never cuts a UTF-8 character in half, even across chunks', () => {
    const euro = Buffer.from('€'); // 3 bytes
    const lines = feed(4, [Buffer.concat([Buffer.from('ab'), euro.subarray(0, 1)]), euro.subarray(1), Buffer.from('€€\n')]);
    expect(texts(lines)).toEqual(['ab', '+€', '+€', '+€']);
    for (const l of lines) expect(Buffer.byteLength(l.text)).toBeLessThanOrEqual(4);
  });

  it('handles 80 MiB without a newline in linear time, in lines of at most the maximum', () => {
    const s = new LineSplitter(16 * 1024);
    const chunk = Buffer.alloc(64 * 1024, '\r[#####     ] 50%');
    let lines = 0;
    let longest = 0;
    let bytes = 0;
    for (let i = 0; i < 80 * 16; i++) {
      for (const l of s.push(chunk)) {
        lines++;
        longest = Math.max(longest, l.text.length);
        bytes += l.text.length;
      }
    }
    for (const l of s.end()) {
      lines++;
      bytes += l.text.length;
    }
    expect(longest).toBe(16 * 1024);
    expect(lines).toBe(80 * 64);
    expect(bytes).toBe(80 * 1024 * 1024);
  });

  it('refuses a maximum below one UTF-8 character', () => {
    expect(() => new LineSplitter(3)).toThrow(RangeError);
  });
});
