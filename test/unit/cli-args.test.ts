import { describe, expect, it } from 'vitest';
import { parseToolArgs } from '../../src/cli/args.js';

describe('exec argument parsing', () => {
  const table: Array<[string[], Record<string, unknown>]> = [
    [[], {}],
    [['a=1', 'b=2'], { a: 1, b: 2 }],
    [['name=Ada'], { name: 'Ada' }],
    [['flag=true', 'none=null'], { flag: true, none: null }],
    [['xs=[1,2,3]'], { xs: [1, 2, 3] }],
    [['o={"k":{"n":[1]}}'], { o: { k: { n: [1] } } }],
    [['s="quoted"'], { s: 'quoted' }],
    [['eq=a=b'], { eq: 'a=b' }],
    [['empty='], { empty: '' }],
    [['text=héllo wörld 🐍'], { text: 'héllo wörld 🐍' }],
    [['{"a": 1, "b": [true]}'], { a: 1, b: [true] }],
  ];
  for (const [argv, expected] of table) {
    it(`${JSON.stringify(argv)} → ${JSON.stringify(expected)}`, () => {
      expect(parseToolArgs(argv)).toEqual(expected);
    });
  }

  const bad: Array<[string[], RegExp]> = [
    [['nokey'], /not key=value/],
    [['=1'], /not key=value/],
    [['1a=2'], /not a valid parameter name/],
    [['a=1', 'a=2'], /given twice/],
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
