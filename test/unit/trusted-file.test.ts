// Token and key files obey the home's trust rules (src/security/trusted-file.ts), on real files in
// a private temporary directory. "Another user" is the reader's uid made different (the `uid`
// parameter), so the rules are checked without root.
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPemFile, readTokenFile, readTrustedFile } from '../../src/security/trusted-file.js';
import { SnakepitError } from '../../src/errors.js';
import { tempDir } from '../helpers/env.js';

const dir = tempDir('sp-tf-');
afterAll(() => dir.cleanup());
const me = process.getuid!();
const TOKEN = 'a'.repeat(40);
let n = 0;
const file = (content: string, mode = 0o600): string => {
  const p = join(dir.path, `f${n++}`);
  writeFileSync(p, content, { mode });
  chmodSync(p, mode);
  return p;
};
const failure = (f: () => unknown): SnakepitError => {
  try {
    f();
  } catch (err) {
    return err as SnakepitError;
  }
  throw new Error('no error');
};

describe('a token file', () => {
  it('is read when private and yours (a trailing newline dropped)', () => {
    expect(readTokenFile(file(`${TOKEN}\n`))).toBe(TOKEN);
  });

  it.each([0o640, 0o604, 0o620, 0o644, 0o666])('mode %o is refused with the path, the mode and chmod 600', (mode) => {
    const p = file(TOKEN, mode);
    const e = failure(() => readTokenFile(p));
    expect(e.code).toBe('FILE_UNSAFE');
    expect(e.message).toContain(p);
    expect(e.message).toContain(`mode 0${mode.toString(8)}`);
    expect(e.message).toContain(`chmod 600 ${p}`);
  });

  it('empty, too short or with spaces: CONFIG_INVALID, the token never quoted', () => {
    expect(failure(() => readTokenFile(file('\n'))).message).toMatch(/is empty; make one with `\(umask 077; openssl rand -hex 32 > /);
    const short = failure(() => readTokenFile(file('short-secret')));
    expect(short.code).toBe('CONFIG_INVALID');
    expect(short.message).toMatch(/12 characters; at least 16/);
    expect(short.message).not.toContain('short-secret');
    expect(failure(() => readTokenFile(file('with a space in the middle!'))).message).toMatch(/other than printable ASCII/);
  });

  it('a file whose size the kernel reports as 0 (procfs) is read for what it holds, and a one-character token says "1 character"', () => {
    // /proc/self/environ: size 0 in fstat, NUL-separated content. Before, one byte was read ("a token of 1 characters").
    const cmdline = readTrustedFile('/proc/self/cmdline', 'public', 'the file', 4096);
    expect(cmdline.length).toBeGreaterThan(1);
    expect(cmdline.toString('utf8')).toContain(process.execPath.split('/').pop()!);
    expect(failure(() => readTokenFile(file('x'))).message).toMatch(/a token of 1 character; at least/);
  });

  it('owned by someone else: refused, even when private', () => {
    const e = failure(() => readTrustedFile(file(TOKEN), 'secret', '--token-file', 4096, me + 1));
    expect(e.code).toBe('FILE_UNSAFE');
    expect(e.message).toMatch(/is owned by uid \d+.*, not by you \(uid \d+/);
  });

  it('a symbolic link is followed only when it is yours, and its target is checked', () => {
    const target = file(TOKEN);
    const link = join(dir.path, `link${n++}`);
    symlinkSync(target, link);
    expect(readTokenFile(link)).toBe(TOKEN);
    // The same link, read by another user: neither the link (unless it is root's) nor its target is theirs.
    const other = failure(() => readTrustedFile(link, 'secret', '--token-file', 4096, me + 1));
    expect(other.code).toBe('FILE_UNSAFE');
    expect(other.message).toMatch(me === 0 ? /\(a link to .*\) is owned by uid 0 \(root\), not by you/ : /is a symbolic link owned by .*not by you/);
    // A link of yours to a readable file is refused for the file's mode, naming both.
    const open = file(TOKEN, 0o644);
    const link2 = join(dir.path, `link${n++}`);
    symlinkSync(open, link2);
    const e = failure(() => readTokenFile(link2));
    expect(e.message).toContain(`${link2} (a link to ${open})`);
    expect(e.message).toContain(`chmod 600 ${open}`);
  });

  it('in a directory others can write (not sticky): refused', () => {
    const shared = join(dir.path, `shared${n++}`);
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    const p = join(shared, 'token');
    writeFileSync(p, TOKEN, { mode: 0o600 });
    expect(failure(() => readTokenFile(p)).message).toMatch(/writable by others \(mode 0777\) without the sticky bit; anyone could replace the file/);
    chmodSync(shared, 0o1777); // sticky, as /tmp: others cannot replace your file
    expect(readTokenFile(p)).toBe(TOKEN);
  });

  it('missing, a directory, a FIFO-free read: clear errors', () => {
    expect(failure(() => readTokenFile(join(dir.path, 'nope'))).message).toMatch(/no such file/);
    expect(failure(() => readTokenFile(dir.path)).message).toMatch(/not a regular file/);
  });
});

describe('PEM files', () => {
  it('a certificate may be readable by all but not writable by others; a key must be private', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    expect(readPemFile(file(pem, 0o644), 'public', '--tls-ca').toString()).toBe(pem);
    expect(failure(() => readPemFile(file(pem, 0o664), 'public', '--tls-ca')).message).toMatch(/writable by group or others \(mode 0664\).*chmod go-w/);
    expect(failure(() => readPemFile(file(pem, 0o644), 'secret', '--tls-key')).code).toBe('FILE_UNSAFE');
    expect(failure(() => readPemFile(file('not pem', 0o644), 'public', '--tls-ca')).message).toMatch(/not a PEM file/);
  });
});
