// Reading the files that decide who may talk to an agent: the cluster's token, TLS keys (secrets)
// and certificates, CAs (public, but whoever can change a CA file decides whom a client trusts).
// The home's rules (src/daemon/home.ts, as ssh's StrictModes) apply to them too:
//   - a secret must be your own regular file that nobody else can read or write (mode 0600 or
//     stricter); a public file must be yours or root's and writable by nobody else;
//   - a symbolic link is followed only when it is yours (or root's): a link someone else planted
//     decides nothing; what it points to is checked, and so is that file's directory (writable by
//     others without the sticky bit, anyone could swap the file);
//   - the checks are made on the opened descriptor (fstat), so the file cannot change between the
//     check and the read; FIFOs and devices are refused without blocking; size is capped.
// A refusal is FILE_UNSAFE naming the path, its owner and mode, and the fix.
import { count } from '../text.js';
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { DEFAULTS } from '../defaults.js';
import { SnakepitError } from '../errors.js';
import { octal, who } from '../daemon/home.js';

export type FileRule = 'secret' | 'public';

/**
 * Reads `path` after the checks above; `what` names it in errors (`--token-file`, `--tls-ca`…).
 * At most `maxBytes` are accepted.
 */
export function readTrustedFile(path: string, rule: FileRule, what: string, maxBytes: number, uid = process.getuid?.() ?? 0): Buffer {
  let link: Stats;
  try {
    link = lstatSync(path);
  } catch (err) {
    throw unreadable(path, what, err);
  }
  let real = path;
  let shown = path;
  if (link.isSymbolicLink()) {
    if (link.uid !== uid && link.uid !== 0) throw unsafe(`${what} ${path} is a symbolic link owned by ${who(link.uid)}, not by you (${who(uid)}) or root; a link someone else made decides nothing`, `replace it with your own file (rm ${path})`);
    try {
      real = realpathSync(path);
    } catch (err) {
      throw unreadable(path, what, err);
    }
    shown = `${path} (a link to ${real})`;
  }
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO put in place of the file must not hang the reader.
    fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    throw unreadable(path, what, err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw unsafe(`${what} ${shown} is not a regular file`, 'give the path of a regular file');
    if (rule === 'secret') {
      if (st.uid !== uid) throw unsafe(`${what} ${shown} is owned by ${who(st.uid)}, not by you (${who(uid)}); a secret must be your own file`, `use a file of your own, or if it is really yours: chown ${uid} ${real}`);
      if (st.mode & 0o077) throw unsafe(`${what} ${shown} is readable or writable by group or others (mode ${octal(st.mode)}); a secret must be private`, `chmod 600 ${real}`);
    } else {
      if (st.uid !== uid && st.uid !== 0) throw unsafe(`${what} ${shown} is owned by ${who(st.uid)}, not by you (${who(uid)}) or root; its owner decides what it says`, `use a copy of your own (cp ${real} FILE && chmod 644 FILE)`);
      if (st.mode & 0o022) throw unsafe(`${what} ${shown} is writable by group or others (mode ${octal(st.mode)})`, `chmod go-w ${real}`);
    }
    const dir = dirname(real);
    const d = statSync(dir);
    if (d.uid !== uid && d.uid !== 0) throw unsafe(`${what} ${shown} is in ${dir}, owned by ${who(d.uid)}, not by you or root; its owner could replace the file`, `keep the file in a directory of your own`);
    if (d.mode & 0o022 && !(d.mode & 0o1000)) throw unsafe(`${what} ${shown} is in ${dir}, writable by others (mode ${octal(d.mode)}) without the sticky bit; anyone could replace the file`, `chmod go-w ${dir}, or keep the file in a directory of your own`);
    if (st.size > maxBytes) throw new SnakepitError('CONFIG_INVALID', `${what} ${shown} is ${st.size} bytes; at most ${maxBytes} are accepted`);
    // Read up to the cap whatever fstat says: procfs and sysfs files report size 0 but have content.
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += r;
    if (n > maxBytes) throw new SnakepitError('CONFIG_INVALID', `${what} ${shown} grew past ${maxBytes} bytes while it was read`);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** Printable ASCII without spaces: what an HTTP header (`authorization: Bearer …`) can carry as is. */
const TOKEN_CHARS = /^[\x21-\x7e]+$/;

/**
 * The cluster's shared token from `path` (a secret file; trailing whitespace, e.g. the newline
 * of `openssl rand -hex 32 > FILE`, is dropped). Never echoed in an error.
 */
export function readTokenFile(path: string, what = '--token-file'): string {
  const token = readTrustedFile(path, 'secret', what, DEFAULTS.tokenFileMaxBytes).toString('utf8').replace(/\s+$/, '');
  const make = `make one with \`(umask 077; openssl rand -hex 32 > ${path})\``;
  if (token.length === 0) throw new SnakepitError('CONFIG_INVALID', `${what} ${path} is empty; ${make}`);
  if (!TOKEN_CHARS.test(token)) throw new SnakepitError('CONFIG_INVALID', `${what} ${path} holds characters other than printable ASCII (spaces, control characters or non-ASCII); ${make}`);
  if (token.length < DEFAULTS.tokenMinBytes) throw new SnakepitError('CONFIG_INVALID', `${what} ${path} holds a token of ${count(token.length, 'character')}; at least ${DEFAULTS.tokenMinBytes} are needed (tokenMinBytes): ${make}`);
  return token;
}

/** A PEM file (certificate, CA bundle: public; a private key: secret). */
export function readPemFile(path: string, rule: FileRule, what: string): Buffer {
  const pem = readTrustedFile(path, rule, what, DEFAULTS.pemFileMaxBytes);
  if (!pem.includes('-----BEGIN ')) throw new SnakepitError('CONFIG_INVALID', `${what} ${path} is not a PEM file (no -----BEGIN line)`);
  return pem;
}

function unsafe(detail: string, fix: string): SnakepitError {
  return new SnakepitError('FILE_UNSAFE', `${detail}. Fix: ${fix}`);
}

function unreadable(path: string, what: string, err: unknown): SnakepitError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new SnakepitError('FILE_ERROR', `${what} ${path}: no such file`);
  if (code === 'ELOOP') return new SnakepitError('FILE_UNSAFE', `${what} ${path} goes through a loop of symbolic links. Fix: give the real file`);
  if (code === 'EACCES' || code === 'EPERM') return new SnakepitError('FILE_ERROR', `${what} ${path} is not readable for you (permission denied)`);
  return new SnakepitError('FILE_ERROR', `${what} ${path} cannot be read: ${(err as Error).message}`);
}
