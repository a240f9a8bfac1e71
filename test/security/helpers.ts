// Helpers of the trust and containment tests: decoy processes (of this or another uid), /proc
// readers, the daemons started from a directory, and the worker cgroups of a run. Every process
// a test starts is recorded and killed by pid; every cgroup it makes is removed.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { processStartTime } from '../../src/proc.js';
import { killPids, pidAlive, waitFor } from '../helpers/env.js';

/** The uid/gid tests use for "another user" (nobody). */
export const NOBODY = 65534;

/** Pids to kill at the end of a test file (by pid, never by name). */
export class Recorded {
  readonly pids: number[] = [];
  add(...pids: number[]): void {
    this.pids.push(...pids.filter((p) => Number.isInteger(p) && p > 1));
  }
  killAll(): void {
    killPids(this.pids.filter(pidAlive));
  }
}

/**
 * Starts `sleep SECONDS` detached (its own session and process group), as `uid` when given, with
 * exactly `env`; waits until it runs and returns its pid and start time.
 */
export async function decoy(recorded: Recorded, opts: { uid?: number; env?: Record<string, string>; seconds?: number } = {}): Promise<{ pid: number; startTime: number }> {
  const child = spawn('sleep', [String(opts.seconds ?? 120)], {
    detached: true,
    stdio: 'ignore',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...opts.env },
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {}),
  });
  child.unref();
  const pid = child.pid!;
  recorded.add(pid);
  await waitFor(() => procCmdline(pid)[0] === 'sleep', 5000);
  return { pid, startTime: processStartTime(pid)! };
}

export function procCmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

export function procEnviron(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  try {
    for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean)) {
      const eq = kv.indexOf('=');
      out[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
  } catch {
    /* gone */
  }
  return out;
}

/** Session id of a live process (/proc/PID/stat field 6). */
export function sessionOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
  } catch {
    return undefined;
  }
}

/** Live processes whose working directory is `dir` and whose command line runs the daemon entry. */
export function daemonsIn(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      if (readlinkSync(`/proc/${pid}/cwd`) !== dir) continue;
    } catch {
      continue;
    }
    const cmd = procCmdline(pid).join(' ');
    if ((cmd.includes('daemon/main.js') || cmd.startsWith('snakepit-agent')) && pidAlive(pid)) out.push(pid);
  }
  return out;
}

/** Every live process whose working directory is `dir` (daemons and workers started from it). */
export function processesIn(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/cwd`) === dir && pidAlive(Number(name))) out.push(Number(name));
    } catch {
      /* gone or not readable */
    }
  }
  return out;
}

/**
 * Directories of this process's own cgroups in the cgroup2 hierarchy and v1's `pids` one, and
 * their mount points (read here, independently of src/, so the tests also run on old code).
 */
function cgroupBases(): string[] {
  const mounts: Record<string, string> = {};
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const [fstype, , opts] = right.split(' ');
    const point = left.split(' ')[4]!;
    if (fstype === 'cgroup2') mounts.v2 ??= point;
    if (fstype === 'cgroup' && (opts ?? '').split(',').includes('pids')) mounts.pids ??= point;
  }
  const out = Object.values(mounts);
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '0' && m[2] === '' && mounts.v2) out.push(join(mounts.v2, m[3]!));
    if (m[2]!.split(',').includes('pids') && mounts.pids) out.push(join(mounts.pids, m[3]!));
  }
  return [...new Set(out)];
}

/** Worker cgroups of run `runId` (or of any run when omitted) in the hierarchies this process sees. */
export function runCgroups(runId?: string): string[] {
  const prefix = runId ? `snakepit-${runId}-` : 'snakepit-';
  const bases = cgroupBases();
  const out: string[] = [];
  for (const base of bases) {
    try {
      for (const name of readdirSync(base)) if (name.startsWith(prefix) && !name.startsWith('snakepit-probe-')) out.push(join(base, name));
    } catch {
      /* not mounted */
    }
  }
  return [...new Set(out)];
}

/** Removes leftover (empty) cgroups of a run, so a failing test leaves none behind. */
export function removeRunCgroups(runId: string): void {
  for (const cg of runCgroups(runId)) {
    try {
      rmdirSync(cg);
    } catch {
      /* still has members (killed by the caller first) or gone */
    }
  }
}
