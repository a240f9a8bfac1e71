// How the ps source fails: with stand-ins for `ps` and `lsof` (small scripts in a temp dir), a
// missing ps, one that hangs and one that rejects the keywords are errors that name the fix,
// never "the process is gone"; no match is an empty answer; without lsof nothing is held open.
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { psSource } from '../../src/proc/ps.js';
import { tempDir } from '../helpers/env.js';

const dir = tempDir('sp-pss-');
afterAll(() => dir.cleanup());

function script(name: string, body: string): string {
  const path = join(dir.path, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

const unavailable = (message: RegExp) => expect.objectContaining({ code: 'PROC_FACTS_UNAVAILABLE', message: expect.stringMatching(message) });

describe('the ps source when ps misbehaves', () => {
  it('a missing ps is an error naming it and the fix', () => {
    const src = psSource({ commands: { ps: join(dir.path, 'no-such-ps') } });
    expect(() => src.identity(process.pid)).toThrow(unavailable(/no-such-ps.*not installed.*fix:/));
    expect(() => src.table()).toThrow(unavailable(/not installed/));
  });

  it('a ps that does not answer in time is an error, after the timeout', () => {
    // exec: the timeout's SIGTERM ends the sleep itself, nothing is left running.
    const src = psSource({ commands: { ps: script('slow-ps', 'exec sleep 5') }, timeoutMs: 200 });
    const t0 = Date.now();
    expect(() => src.facts(process.pid)).toThrow(unavailable(/did not answer within 200 ms/));
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('a ps that rejects the keywords is an error quoting it; no match (exit 1, silent) is "gone"', () => {
    const picky = psSource({ commands: { ps: script('picky-ps', 'echo "ps: lstart: keyword not found" >&2; exit 1') } });
    expect(() => picky.identity(process.pid)).toThrow(unavailable(/keyword not found.*fix:/));
    const none = psSource({ commands: { ps: script('empty-ps', 'exit 1') } });
    expect(none.identity(process.pid)).toBeUndefined();
    expect(none.environValues([process.pid], 'PATH').size).toBe(0);
  });

  it('hostile rows are dropped, not half-read', () => {
    const src = psSource({ commands: { ps: script('odd-ps', `echo "${process.pid} 1 2 3 S 0 0 0 10 not a date"; echo "${process.pid}x 1 2 3 S 0 0 0 10 Tue Dec  1 14:08:38 2026"`) } });
    expect(src.identity(process.pid)).toBeUndefined();
  });
});

describe('the ps source without lsof', () => {
  it('proves no open file at all', () => {
    const file = join(dir.path, 'held');
    writeFileSync(file, '');
    const fd = openSync(file, 'r');
    try {
      expect(psSource().holdsOpen(process.pid, file)).toBe(true); // lsof is installed here
      expect(psSource({ commands: { lsof: join(dir.path, 'no-such-lsof') } }).holdsOpen(process.pid, file)).toBe(false);
    } finally {
      closeSync(fd);
    }
  });
});
