// Small file helpers shared by the daemon's state files and the process registry: a reader of
// any of them (another CLI, a crashed agent's successor) must never see a half-written file.
import { accessSync, constants, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { SnakepitError } from './errors.js';

/** Writes a file atomically (write to a temp name in the same directory, then rename). */
export function writeFileAtomic(path: string, data: string, mode = 0o600): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    rmSync(tmp, { force: true });
    writeFileSync(tmp, data, { mode, flag: 'wx' }); // never through something planted under the temp name
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** `stat` of a path, or undefined when there is nothing there (or it cannot be stat'ed). */
export function statSafe(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** The nearest existing ancestor of `path` (itself if it exists), and whether it is a directory. */
export function existingAncestor(path: string): { path: string; isDirectory: boolean } {
  for (let p = path; ; p = dirname(p)) {
    const st = statSafe(p);
    if (st) return { path: p, isDirectory: st.isDirectory() };
    if (dirname(p) === p) return { path: p, isDirectory: true };
  }
}

/**
 * Why `path` (a directory Snakepit has to make, e.g. a home) cannot be made, or null: a regular
 * file where a directory of the path should be, or a directory it cannot write in. What doctor
 * reports before `up` fails on it.
 */
export function cannotCreate(path: string): { problem: string; fix: string } | null {
  const at = existingAncestor(path);
  if (at.path === path) return null;
  if (!at.isDirectory) return { problem: `${at.path} is a file, so ${path} cannot be created under it`, fix: `move ${at.path} away, or use another path` };
  try {
    accessSync(at.path, constants.W_OK | constants.X_OK);
  } catch {
    return { problem: `${path} cannot be created: ${at.path} is not writable for you`, fix: `use a directory you can write in, or make ${at.path} writable (chmod u+w ${at.path})` };
  }
  return null;
}

/**
 * A file-system error as a message naming the path, the problem and the fix (FILE_ERROR), or
 * undefined when `err` is none: what would otherwise reach the user as a Node stack trace.
 */
export function fileSystemError(err: unknown): SnakepitError | undefined {
  const e = err as NodeJS.ErrnoException;
  if (!(err instanceof Error) || typeof e.code !== 'string' || typeof e.path !== 'string') return undefined;
  const path = e.path;
  const op = e.syscall ? ` (${e.syscall})` : '';
  switch (e.code) {
    case 'ENOTDIR': {
      const at = existingAncestor(dirname(path));
      const file = at.isDirectory ? path : at.path;
      return new SnakepitError('FILE_ERROR', `${file} is a file where a directory is needed for ${path}${op}; move it away or use another path (e.g. --home DIR)`);
    }
    case 'EEXIST':
      return new SnakepitError('FILE_ERROR', `${path} already exists${statSafe(path)?.isFile() ? ' and is a file, not a directory' : ''}${op}; remove it, or pick another path`);
    case 'EACCES':
    case 'EPERM':
      return new SnakepitError('FILE_ERROR', `permission denied on ${path}${op}: it is not ${e.syscall === 'open' || e.syscall === 'scandir' ? 'readable' : 'writable'} for you; fix its permissions (e.g. chmod u+rwx ${dirname(path)}) or use another path (e.g. --home DIR)`);
    case 'EROFS':
      return new SnakepitError('FILE_ERROR', `${path} is on a read-only file system${op}; use a writable path (e.g. --home DIR)`);
    case 'ENOSPC':
      return new SnakepitError('FILE_ERROR', `no space left on the device of ${path}${op}; free some space, or use another path`);
    case 'ELOOP':
      return new SnakepitError('FILE_ERROR', `${path} is (or goes through) a loop of symbolic links${op}; replace the link with a real directory`);
    case 'ENAMETOOLONG':
      return new SnakepitError('FILE_ERROR', `the path ${path} is too long${op}; use a shorter one`);
    default:
      return undefined;
  }
}
