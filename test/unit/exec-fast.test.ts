// The exec fast path parses its own flags (it skips commander to start fast): a table of
// argv → parsed options, and argv it must hand to the full CLI (undefined).
import { describe, expect, it } from 'vitest';
import { parseExecArgv } from '../../src/cli/exec-fast.js';

describe('exec fast-path argv', () => {
  const table: Array<[string[], ReturnType<typeof parseExecArgv>]> = [
    [['add', 'a=1', 'b=2'], { tool: 'add', args: ['a=1', 'b=2'], options: {} }],
    [['add', '--json', 'a=1'], { tool: 'add', args: ['a=1'], options: { json: true } }],
    [['t', '--session', 's1', '--timeout', '500', '--stream', '--idempotent'], { tool: 't', args: [], options: { session: 's1', timeoutMs: 500, stream: true, idempotent: true } }],
    [['t', '--pool=ml', '--home=/h', '--address', 'unix:/a.sock'], { tool: 't', args: [], options: { pool: 'ml', home: '/h', address: 'unix:/a.sock' } }],
    [['t', '--', '--not-a-flag=1'], { tool: 't', args: ['--not-a-flag=1'], options: {} }],
    [['echo', '{"value": "-x"}'], { tool: 'echo', args: ['{"value": "-x"}'], options: {} }],
    [['t', '--require', 'gpu=a100', '--require=zone=eu'], { tool: 't', args: [], options: { require: ['gpu=a100', 'zone=eu'] } }],
  ];
  for (const [argv, expected] of table) {
    it(`${JSON.stringify(argv)}`, () => expect(parseExecArgv(argv)).toEqual(expected));
  }

  it.each([[['add', '--help']], [['add', '-h']], [['add', '--unknown']], [[]], [['add', '--session']], [['add', '--json=1']]])('hands %j to the full CLI', (argv) => {
    expect(parseExecArgv(argv)).toBeUndefined();
  });

  it('rejects a bad --timeout as a usage error', () => {
    expect(() => parseExecArgv(['add', '--timeout', 'soon'])).toThrowError(/--timeout/);
  });
});
