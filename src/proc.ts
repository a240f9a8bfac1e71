// Facts about processes read from /proc. A pid alone never identifies a process (pids are
// reused): a process is "the same" only while its start time (/proc/PID/stat field 22, clock
// ticks since boot) still matches what was recorded.
import { readdirSync, readFileSync, statSync } from 'node:fs';

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces and parentheses: the fields after it start after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Start time of a process, or undefined when it does not exist. */
export function processStartTime(pid: number): number | undefined {
  const f = statFields(pid);
  return f ? Number(f[19]) : undefined;
}

/** True while the process exists, is not a zombie, and (if given) has the recorded start time. */
export function isAlive(pid: number, startTime?: number): boolean {
  const f = statFields(pid);
  if (!f || f[0] === 'Z') return false;
  return startTime === undefined || Number(f[19]) === startTime;
}

/** Resident set size of a process from /proc/PID/status, bytes (0 when unknown). */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The command line of a process (NUL-separated in /proc), or undefined. */
export function commandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s.length > 0);
  } catch {
    return undefined;
  }
}

/** State, parent, process group, session and start time in one read of /proc/PID/stat, or undefined. */
export function processFacts(pid: number): { state: string; ppid: number; pgid: number; sid: number; startTime: number } | undefined {
  const f = statFields(pid);
  if (!f) return undefined;
  return { state: f[0]!, ppid: Number(f[1]), pgid: Number(f[2]), sid: Number(f[3]), startTime: Number(f[19]) };
}

/**
 * The real, effective and saved uids of a process (/proc/PID/status "Uid:"), or undefined when it
 * is gone. Root can read (and signal) every process, so "is it another user's" is asked here
 * explicitly rather than left to EPERM.
 */
export function processUids(pid: number): number[] | undefined {
  try {
    const m = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
  } catch {
    return undefined;
  }
}

/** The uid a process runs as when all its uids agree, else -1 (mixed: setuid), undefined when gone. */
export function processUid(pid: number): number | undefined {
  const uids = processUids(pid);
  if (!uids) return undefined;
  return uids.every((u) => u === uids[0]) ? uids[0] : -1;
}

/**
 * Whether process `pid` holds `path` open (one of /proc/PID/fd/* is that very inode). Only the
 * process that opened a file (or a child it passed the descriptor to) can hold it, so this proves
 * more than a pid and start time written into a file anyone with access could have copied.
 */
export function holdsOpen(pid: number, path: string): boolean {
  let target: { dev: number; ino: number };
  try {
    target = statSync(path);
  } catch {
    return false;
  }
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      const st = statSync(`/proc/${pid}/fd/${fd}`);
      if (st.ino === target.ino && st.dev === target.dev) return true;
    } catch {
      /* closed meanwhile */
    }
  }
  return false;
}

/** Process group id (/proc/PID/stat field 5), or undefined when the process does not exist. */
export function processGroup(pid: number): number | undefined {
  return processFacts(pid)?.pgid;
}

/**
 * One variable of a process's environment as it was at exec (/proc/PID/environ), or undefined
 * when it is not set or not readable (another user's process, a process that is gone).
 */
export function environValue(pid: number, name: string): string | undefined {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return undefined;
  }
  const prefix = `${name}=`;
  for (const entry of raw.split('\0')) if (entry.startsWith(prefix)) return entry.slice(prefix.length);
  return undefined;
}

/** Every pid currently in /proc (a snapshot: processes come and go while it is read). */
export function listPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((n) => /^\d+$/.test(n))
      .map(Number);
  } catch {
    return [];
  }
}
