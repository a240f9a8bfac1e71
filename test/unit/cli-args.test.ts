import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseToolArgs } from '../../src/cli/args.js';

describe('exec argument parsing (HTTPie: k=v is text for the worker to convert, k:=JSON, k@FILE)', () => {
  const text = (v: string) => ({ $cli: v });
  const table: Array<[string[], Record<string, unknown>]> = [
    [[], {}],
    [['a=1', 'b=2'], { a: text('1'), b: text('2') }],
    [['name=Ada'], { name: text('Ada') }],
    [['flag=true', 'none=null'], { flag: text('true'), none: text('null') }],
    [['xs=[1,2,3]'], { xs: text('[1,2,3]') }],
    [['xs:=[1,2,3]', 'o:={"k":{"n":[1]}}', 's:="quoted"', 'n:=12'], { xs: [1, 2, 3], o: { k: { n: [1] } }, s: 'quoted', n: 12 }],
    [['eq=a=b'], { eq: text('a=b') }],
    [['url=http://x:=y@z'], { url: text('http://x:=y@z') }],
    [['empty='], { empty: text('') }],
    [['text=héllo wörld 🐍'], { text: text('héllo wörld 🐍') }],
    [['{"a": 1, "b": [true]}'], { a: 1, b: [true] }],
  ];
  for (const [argv, expected] of table) {
    it(`${JSON.stringify(argv)} → ${JSON.stringify(expected)}`, () => {
      expect(parseToolArgs(argv)).toEqual(expected);
    });
  }

  it('k@FILE sends the file as bytes, k@- and - read stdin (once)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sp-args-'));
    try {
      writeFileSync(join(dir, 'f.bin'), Buffer.from([0, 1, 2]));
      expect(parseToolArgs([`data@${join(dir, 'f.bin')}`])).toEqual({ data: { $cli_bytes: Buffer.from([0, 1, 2]) } });
      expect(parseToolArgs(['data@-'], () => Buffer.from('in'))).toEqual({ data: { $cli_bytes: Buffer.from('in') } });
      expect(parseToolArgs(['-'], () => Buffer.from('{"a": [1]}'))).toEqual({ a: [1] });
      expect(() => parseToolArgs(['a@-', 'b@-'], () => Buffer.from('x'))).toThrow(/only one argument can read stdin/);
      expect(() => parseToolArgs([`data@${join(dir, 'nope')}`])).toThrow(/cannot read .*nope: no such file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const bad: Array<[string[], RegExp]> = [
    [['nokey'], /not key=value, key:=JSON or key@FILE/],
    [['=1'], /not key=value/],
    [['1a=2'], /not a valid parameter name/],
    [['a=1', 'a=2'], /given twice/],
    [['a:=[1,'], /argument 'a:=' needs JSON/],
    [['{"a": '], /do not parse/],
    [['{"a":1}', 'b=2'], /not key=value/],
  ];
  for (const [argv, message] of bad) {
    it(`rejects ${JSON.stringify(argv)} as a usage error`, () => {
      expect(() => parseToolArgs(argv)).toThrowError(message);
      try {
        parseToolArgs(argv);
      } catch (err) {
        expect((err as { code: string }).code).toBe('USAGE');
      }
    });
  }
});

describe('durations and counts in what the CLI reads and prints', () => {
  it('parseDuration takes ms, s, m, h and bare milliseconds, and refuses the rest naming the forms', async () => {
    const { parseDuration } = await import('../../src/cli/args.js');
    const max = 2 ** 31 - 1;
    expect(parseDuration('500', '--timeout', max)).toBe(500);
    expect(parseDuration('500ms', '--timeout', max)).toBe(500);
    expect(parseDuration('5s', '--timeout', max)).toBe(5_000);
    expect(parseDuration('1.5s', '--timeout', max)).toBe(1_500);
    expect(parseDuration('2m', '--timeout', max)).toBe(120_000);
    expect(parseDuration('1h', '--timeout', max)).toBe(3_600_000);
    for (const bad of ['', 's', '5x', '-1s', '1e3', '5 s', '0', '0.0001s']) expect(() => parseDuration(bad, '--timeout', max), bad).toThrow(/--timeout/);
    expect(() => parseDuration('25d', '--timeout', max)).toThrow(/expects a duration/);
    expect(() => parseDuration('600h', '--timeout', max)).toThrow(/at most 2147483647 ms/);
  });

  it('count says "1 worker" and "2 workers"', async () => {
    const { count } = await import('../../src/text.js');
    expect([count(0, 'worker'), count(1, 'worker'), count(2, 'worker'), count(1, 'process', 'processes'), count(3, 'process', 'processes')]).toEqual(['0 workers', '1 worker', '2 workers', '1 process', '3 processes']);
  });
});
