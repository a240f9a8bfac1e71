// Facts about processes: start time, state, parent, group, session, uid, RSS, command line,
// environment, open files. A pid alone never identifies a process (pids are reused): a process
// is "the same" only while its start time still matches what was recorded.
// Two sources answer (src/proc/): Linux's /proc, and `ps` / `lsof` for macOS and other Unixes.
// Linux uses /proc unless SNAKEPIT_PROC_FACTS says `ps`; everything else uses ps. Start times of
// the two have different units, so every process of one home must use the same source: the
// variable is inherited by the daemons `up` starts, and nothing here mixes them.
import { existsSync } from 'node:fs';
import { DEFAULTS, ENV } from './defaults.js';
import { SnakepitError } from './errors.js';
import { linuxSource } from './proc/linux.js';
import { psSource } from './proc/ps.js';
import type { ProcFactsKind, ProcessFacts, ProcessSource } from './proc/source.js';

export type { ProcFactsKind, ProcessFacts, ProcessIdentity, ProcessSource } from './proc/source.js';

const KINDS = ['auto', 'proc', 'ps'] as const;

/** Which source to use: SNAKEPIT_PROC_FACTS, else DEFAULTS.procFacts; `auto` is /proc where it is mounted on Linux. */
export function chooseProcFacts(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, procMounted: () => boolean): ProcFactsKind {
  const raw = env[ENV.procFacts] || DEFAULTS.procFacts;
  if (!(KINDS as readonly string[]).includes(raw)) {
    throw new SnakepitError('CONFIG_INVALID', `${ENV.procFacts}=${raw} is not a source of process facts; fix: \`proc\` (Linux's /proc), \`ps\` or \`auto\` (/proc on Linux, else ps), or unset it`);
  }
  if (raw === 'proc' && !procMounted()) {
    throw new SnakepitError('PROC_FACTS_UNAVAILABLE', `${ENV.procFacts}=proc, but there is no /proc here (it is Linux's); fix: \`ps\`, or unset ${ENV.procFacts}`);
  }
  if (raw === 'auto') return platform === 'linux' && procMounted() ? 'proc' : 'ps';
  return raw as ProcFactsKind;
}

let chosen: ProcessSource | undefined;

/** The source this process uses, chosen on first use (then fixed: recorded start times depend on it). */
export function processSource(): ProcessSource {
  chosen ??= chooseProcFacts(process.env, process.platform, () => existsSync('/proc/self/stat')) === 'proc' ? linuxSource() : psSource();
  return chosen;
}

let ownStartTime: number | undefined;

/** Start time of a process, or undefined when it does not exist. */
export function processStartTime(pid: number): number | undefined {
  // Our own never changes, and lock files ask for it on every attempt: one read (or ps call) at most.
  if (pid === process.pid) return (ownStartTime ??= processSource().identity(pid)?.startTime);
  return processSource().identity(pid)?.startTime;
}

/** True while the process exists, is not a zombie, and (if given) has the recorded start time. */
export function isAlive(pid: number, startTime?: number): boolean {
  const id = processSource().identity(pid);
  if (!id || id.state === 'Z') return false;
  return startTime === undefined || id.startTime === startTime;
}

/** Resident set size of a process, bytes (0 when unknown; the ps source's may lag by a second). */
export function rssBytes(pid: number): number {
  return processSource().rssBytes(pid);
}

/** The command line of a process, or undefined (the ps source gives it as one string). */
export function commandLine(pid: number): string[] | undefined {
  return processSource().commandLine(pid);
}

/** State, parent, process group, session, uid and start time, or undefined. */
export function processFacts(pid: number): ProcessFacts | undefined {
  return processSource().facts(pid);
}

/**
 * The facts of every process that `keep` accepts, from one pass over the process table. Root
 * can read (and signal) every process, so "is it another user's" is asked through `uid`
 * explicitly rather than left to EPERM.
 */
export function processTable(keep?: (f: Omit<ProcessFacts, 'uid'>) => boolean): ProcessFacts[] {
  return processSource().table(keep);
}

/** The uid a process runs as when all its uids agree, else -1 (mixed: setuid), undefined when gone. */
export function processUid(pid: number): number | undefined {
  return processFacts(pid)?.uid;
}

/** Process group id, or undefined when the process does not exist. */
export function processGroup(pid: number): number | undefined {
  return processFacts(pid)?.pgid;
}

/** Whether process `pid` holds `path` open (the very inode); false when it cannot be told. */
export function holdsOpen(pid: number, path: string): boolean {
  return processSource().holdsOpen(pid, path);
}

/**
 * One variable of a process's environment as it was at exec, or undefined when it is not set
 * or not readable (another user's process, a process that is gone).
 */
export function environValue(pid: number, name: string): string | undefined {
  return processSource().environValues([pid], name).get(pid);
}

/** The same for several processes at once (one read each, or two ps calls in all). */
export function environValues(pids: readonly number[], name: string): Map<number, string> {
  return processSource().environValues(pids, name);
}
