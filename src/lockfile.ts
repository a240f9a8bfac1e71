// Lock files shared by the process registry (one read-modify-write at a time) and the home (one
// `up` or `down` at a time). Node has no flock(2), so a lock is a file created by link(2) from a
// complete temp file: it always names its holder ("PID STARTTIME LABEL"), and a lock whose holder
// is dead (pid gone, or reused: the start time differs) is broken. Breaking is itself serialized
// by a short-lived `<lock>.break` lock and re-reads the lock before removing it, so two waiters
// that both saw the same dead holder cannot remove each other's fresh lock.
import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isAlive, processStartTime } from './proc.js';

export interface LockHolder {
  pid: number;
  startTime: number;
  /** What the holder is doing (`up`, `down`, `registry`…), for messages. */
  label: string;
}

/** Who holds `lock` right now, or undefined when it is free (or unreadable garbage). */
export function lockHolder(lock: string): LockHolder | undefined {
  const text = readText(lock);
  if (text === undefined) return undefined;
  const [pid, startTime, label] = text.trim().split(/\s+/);
  return { pid: Number(pid) || 0, startTime: Number(startTime) || 0, label: label ?? '' };
}

/** One attempt to take `lock`; true when taken. A dead holder's lock is broken on the way. */
export function tryLock(lock: string, label: string): boolean {
  const mine = `${lock}.${process.pid}`;
  rmSync(mine, { force: true });
  // 'wx': never write through something planted under our temp name.
  writeFileSync(mine, `${process.pid} ${processStartTime(process.pid) ?? 0} ${label}\n`, { mode: 0o600, flag: 'wx' });
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        linkSync(mine, lock);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const seen = readText(lock);
      if (seen === undefined) continue; // released meanwhile
      if (!holderDead(seen)) return false;
      breakStale(lock, seen, mine);
    }
    return false;
  } finally {
    rmSync(mine, { force: true });
  }
}

/** Releases `lock` if this process still holds it. */
export function releaseLock(lock: string): void {
  const h = lockHolder(lock);
  if (h && h.pid === process.pid) rmSync(lock, { force: true });
}

/** Runs `fn` holding `lock`, waiting for it synchronously (for locks held a few milliseconds). */
export function withLockSync<T>(lock: string, label: string, waitMs: number, timeout: () => Error, fn: () => T): T {
  const deadline = Date.now() + waitMs;
  while (!tryLock(lock, label)) {
    if (Date.now() > deadline) throw timeout();
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  }
  try {
    return fn();
  } finally {
    releaseLock(lock);
  }
}

/**
 * Takes `lock`, polling every `pollMs` while its holder lives, for at most `waitMs`. `onWait` is
 * told once who holds it. Resolves with the release function; rejects with `timeout()`.
 */
export async function acquireLock(
  lock: string,
  opts: { label: string; waitMs: number; pollMs?: number; onWait?: (holder: LockHolder) => void; timeout: (holder: LockHolder | undefined) => Error },
): Promise<() => void> {
  const deadline = Date.now() + opts.waitMs;
  let told = false;
  while (!tryLock(lock, opts.label)) {
    const holder = lockHolder(lock);
    if (Date.now() > deadline) throw opts.timeout(holder);
    if (holder && !told) {
      told = true;
      opts.onWait?.(holder);
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 20));
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    releaseLock(lock);
  };
}

function holderDead(text: string): boolean {
  const [pid, startTime] = text.trim().split(/\s+/).map(Number);
  if (!pid) return true; // garbage
  if (pid === process.pid && !startTime) return true; // left by an earlier process with our pid
  return !isAlive(pid, startTime || undefined);
}

/** Removes `lock` if it still holds exactly `seen` (the dead holder's text), one breaker at a time. */
function breakStale(lock: string, seen: string, mine: string): void {
  const breaker = `${lock}.break`;
  try {
    linkSync(mine, breaker);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Another process is breaking it right now (held for microseconds), unless it died doing so.
    const other = readText(breaker);
    if (other !== undefined && holderDead(other)) rmSync(breaker, { force: true });
    return;
  }
  try {
    if (readText(lock) === seen) rmSync(lock, { force: true });
  } finally {
    rmSync(breaker, { force: true });
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
