// The lock file shared by the registry and the home: it names its holder, a dead holder's lock
// is broken, a live holder's is waited for, and mutual exclusion holds across processes even
// when they all start by breaking the same stale lock (the built dist/lockfile.js, run by 6
// processes at once).
import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquireLock, lockHolder, releaseLock, tryLock } from '../../src/lockfile.js';
import { processStartTime } from '../../src/proc.js';
import { ROOT, tempDir } from '../helpers/env.js';

const dir = tempDir('sp-lock-');
let n = 0;
const fresh = (): string => join(dir.path, `l${n++}.lock`);

afterAll(() => dir.cleanup());

describe('lock file', () => {
  it('names its holder; a second try fails while it is held; release frees it', () => {
    const lock = fresh();
    expect(tryLock(lock, 'up')).toBe(true);
    expect(lockHolder(lock)).toEqual({ pid: process.pid, startTime: processStartTime(process.pid), label: 'up' });
    expect(tryLock(lock, 'down')).toBe(false);
    releaseLock(lock);
    expect(existsSync(lock)).toBe(false);
  });

  it('breaks a dead holder’s lock (gone, or its pid reused) but never a live one’s', async () => {
    const lock = fresh();
    writeFileSync(lock, '4000000 1 up\n');
    expect(tryLock(lock, 'up')).toBe(true);
    releaseLock(lock);
    writeFileSync(lock, `${process.ppid} ${processStartTime(process.ppid)! + 1} up\n`); // reused pid
    expect(tryLock(lock, 'up')).toBe(true);
    releaseLock(lock);

    writeFileSync(lock, `${process.ppid} ${processStartTime(process.ppid)} down\n`);
    const waited: number[] = [];
    const err = await acquireLock(lock, { label: 'up', waitMs: 150, onWait: (h) => waited.push(h.pid), timeout: (h) => new Error(`held by ${h?.pid} (${h?.label})`) }).catch((e: Error) => e);
    expect((err as Error).message).toBe(`held by ${process.ppid} (down)`);
    expect(waited).toEqual([process.ppid]);
    expect(readFileSync(lock, 'utf8')).toContain(String(process.ppid)); // left alone
  });

  it('keeps mutual exclusion across processes that all begin by breaking one stale lock', async () => {
    const lock = fresh();
    const inside = join(dir.path, 'inside');
    writeFileSync(lock, '4000000 1 dead\n');
    const script = `
      import { existsSync, rmSync, writeFileSync } from 'node:fs';
      import { withLockSync } from ${JSON.stringify(join(ROOT, 'dist/lockfile.js'))};
      const [lock, inside] = process.argv.slice(1);
      for (let i = 0; i < 40; i++) {
        withLockSync(lock, 'test', 10000, () => new Error('timeout'), () => {
          if (existsSync(inside)) { console.error('two holders at once'); process.exit(3); }
          writeFileSync(inside, String(process.pid));
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
          rmSync(inside);
        });
      }`;
    const codes = await Promise.all(
      Array.from({ length: 6 }, () => new Promise<number>((resolve) => execFile(process.execPath, ['--input-type=module', '-e', script, lock, inside], (e) => resolve(e ? ((e as { code?: number }).code ?? 1) : 0)))),
    );
    expect(codes).toEqual([0, 0, 0, 0, 0, 0]);
    expect(existsSync(lock)).toBe(false);
  });
});
