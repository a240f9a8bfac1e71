// Spawning a detached daemon (an agent, or a router) and waiting for its ready line: `up`,
// `cluster up` and a router supervising its agents all start daemons this way. The daemon's
// output goes to its home's crash file, its options travel on a private pipe (fd 4, never argv:
// pools' `env` may hold secrets), and it announces progress, then ready or failed, on fd 3.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readFileSync, renameSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';
import { DEFAULTS, withoutClientSecurityEnv } from '../defaults.js';
import { formatRecord, type LogRecord } from '../agent/log.js';
import { maySignalGroup, selfFacts } from '../agent/ownership.js';
import { processFacts } from '../proc.js';
import { isAlive, processStartTime, type HomePaths } from './home.js';
import type { Announcement, FailedMessage, ReadyMessage } from './run.js';

export interface Spawned {
  child: ChildProcess;
  /** The daemon's pid and start time, recorded at spawn (undefined: it never ran). */
  pid: number | undefined;
  startTime: number | undefined;
  /** Ready, failed, gone without a word (undefined), or silent past the wait ('timeout'). */
  outcome: ReadyMessage | FailedMessage | undefined | 'timeout';
  /** Where this daemon's own output starts in the crash file (for crashTail). */
  crashFrom: number;
}

/** The daemon's entry: the bundle (dist/daemon-fast, see scripts/bundle-exec.mjs) when built, else dist/daemon/main.js. */
function daemonEntry(): string {
  const bundled = fileURLToPath(new URL('../daemon-fast/main.js', import.meta.url));
  return existsSync(bundled) ? bundled : fileURLToPath(new URL('./main.js', import.meta.url));
}

/**
 * Spawns the daemon entry (src/daemon/main.ts) for `paths` with `options` on its options pipe and
 * waits up to `readyWaitMs` for its ready or failed line; progress lines go to `onProgress`.
 */
export async function spawnDaemon(paths: HomePaths, options: object, readyWaitMs: number, onProgress: (line: string) => void, cwd: string = process.cwd()): Promise<Spawned> {
  rotateCrashFile(paths);
  const crashFrom = sizeOf(paths.crashFile); // what this daemon writes there starts here
  const out = openSync(paths.crashFile, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  const daemonMain = daemonEntry();
  const child = spawn(process.execPath, [...(process.env.SNAKEPIT_DAEMON_NODE_FLAGS ?? DEFAULTS.daemonNodeFlags).split(' ').filter(Boolean), daemonMain], {
    cwd,
    detached: true,
    stdio: ['ignore', out, out, 'pipe', 'pipe'],
    // The client's security variables are not the daemon's: what it serves with comes in its options.
    env: withoutClientSecurityEnv(process.env),
  });
  closeSync(out);
  const startTime = child.pid !== undefined ? processStartTime(child.pid) : undefined;
  const optionsPipe = child.stdio[4] as Writable;
  optionsPipe.on('error', () => {}); // a daemon that died at once: reported by its outcome
  optionsPipe.end(JSON.stringify(options));
  const announcements = child.stdio[3] as Readable;
  const outcome = await readAnnouncement(announcements, readyWaitMs, onProgress);
  announcements.destroy();
  return { child, pid: child.pid, startTime, outcome, crashFrom };
}

/**
 * Stops a daemon this `up` spawned and gave up on: SIGTERM (and SIGCONT, should it be stopped) so
 * it stops its workers, then after `cleanupGraceMs` SIGKILL to its process group (it leads one:
 * it was spawned detached). Each signal only while pid and start time are still the ones recorded
 * at spawn.
 */
export async function stopDaemon(pid: number, startTime: number): Promise<'gone' | 'terminated' | 'killed'> {
  if (!isAlive(pid, startTime)) return 'gone';
  const self = selfFacts();
  const signal = (target: number, sig: NodeJS.Signals): void => {
    try {
      process.kill(target, sig);
    } catch {
      /* gone */
    }
  };
  signal(pid, 'SIGTERM');
  signal(pid, 'SIGCONT');
  const deadline = Date.now() + DEFAULTS.cleanupGraceMs;
  while (isAlive(pid, startTime) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  if (!isAlive(pid, startTime)) return 'terminated';
  const leads = processFacts(pid)?.pgid === pid && maySignalGroup(pid, self);
  signal(leads ? -pid : pid, 'SIGKILL');
  const settle = Date.now() + 2_000;
  while (isAlive(pid, startTime) && Date.now() < settle) await new Promise((r) => setTimeout(r, 25));
  return 'killed';
}

/** Keeps the crash file small: one `.1` generation once it passes `crashLogMaxBytes`. */
function rotateCrashFile(paths: HomePaths): void {
  try {
    if (statSync(paths.crashFile).size > DEFAULTS.crashLogMaxBytes) renameSync(paths.crashFile, `${paths.crashFile}.1`);
  } catch {
    /* none yet */
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** What the daemon wrote to the crash file since `from` (its own output only), as a quote. */
export function crashTail(paths: HomePaths, from: number): string {
  const text = Buffer.from(readFileSafe(paths.crashFile)).subarray(from).toString('utf8').trimEnd();
  return text ? `\nthe daemon's own output (${paths.crashFile}):\n${text.split('\n').slice(-20).join('\n')}` : '';
}

/** Reads the daemon's announcements: progress lines (passed on), then ready or failed; 'timeout' after `timeoutMs`. */
function readAnnouncement(stream: Readable, timeoutMs: number, onProgress: (line: string) => void): Promise<ReadyMessage | FailedMessage | undefined | 'timeout'> {
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    const done = (v: ReadyMessage | FailedMessage | undefined | 'timeout'): void => {
      clearTimeout(timer);
      stream.removeAllListeners();
      stream.on('error', () => {});
      resolve(v);
    };
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => {
      text += d;
      let nl: number;
      while ((nl = text.indexOf('\n')) >= 0) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        let msg: Announcement;
        try {
          msg = JSON.parse(line) as Announcement;
        } catch {
          done(undefined);
          return;
        }
        if ('progress' in msg) onProgress(msg.progress);
        else {
          done(msg);
          return;
        }
      }
    });
    stream.on('end', () => done(undefined));
    stream.on('error', () => done(undefined));
  });
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The last lines of the agent's log, as readable text (the file holds JSON records). */
export function tail(path: string, lines: number): string {
  return readFileSafe(path)
    .trimEnd()
    .split('\n')
    .slice(-lines)
    .map((line) => {
      try {
        return formatRecord(JSON.parse(line) as LogRecord);
      } catch {
        return line;
      }
    })
    .join('\n');
}

