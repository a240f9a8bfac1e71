// Process facts from `ps` (and `lsof` for open files), for macOS and other Unixes without Linux's
// /proc. Flags are ones procps (Linux) and BSD / macOS ps both accept, except for showing the
// environment, which no flag does everywhere: procps `e`, macOS `-E` (its `-e` means "all
// processes"), the BSDs `-e`. Every call is a subprocess, bounded by DEFAULTS.procFactsTimeoutMs:
// a scan makes one `ps -A` call for the whole table, and RSS (asked per worker per call) is read
// from one shared snapshot refreshed in the background at most once per RSS_SNAPSHOT_MS.
// The start time is `lstart` in ms since the epoch: second resolution, so a pid reused within
// the same second would look like the same process (pids are handed out in order: it takes a
// full wrap of the pid space in that second).
import { execFile, spawnSync } from 'node:child_process';
import { DEFAULTS } from '../defaults.js';
import { SnakepitError } from '../errors.js';
import { PS_COLUMNS, deriveSessions, envValue, parseCommands, parsePsRows, parseRss, type PsRow } from './ps-parse.js';
import type { ProcessFacts, ProcessIdentity, ProcessSource } from './source.js';

/** How old the shared RSS snapshot may get before a call starts a refresh, ms. */
const RSS_SNAPSHOT_MS = 1_000;

export interface PsSourceOptions {
  /**
   * Where session ids come from: the `sess` column (procps), or derived from the process table
   * (`deriveSessions`: macOS prints 0 there for every process, the BSDs a kernel pointer).
   * Default: the column on Linux only.
   */
  sessions?: 'column' | 'derive';
  /** The argument that makes ps append each process's environment to its command. Default: by platform. */
  envFlag?: string;
  timeoutMs?: number;
  /** The programs run (tests put stand-ins here): default `ps` and `lsof`, found on PATH. */
  commands?: { ps?: string; lsof?: string };
}

/** What ps and lsof run with: no locale (lstart's layout), UTC (lstart's zone), none of procps' PS_* switches. */
function toolEnv(): NodeJS.ProcessEnv {
  return { PATH: `${process.env.PATH ? `${process.env.PATH}:` : ''}/usr/bin:/bin:/usr/sbin:/sbin`, LC_ALL: 'C', TZ: 'UTC' };
}

/** A pid ps can be asked about (a list is joined with commas: nothing else may slip in). */
function valid(pid: number): boolean {
  return Number.isInteger(pid) && pid > 0;
}

function uidOf(r: PsRow): number {
  const [real, effective, saved] = r.uids;
  return real === effective && effective === saved ? real : -1;
}

export function psSource(opts: PsSourceOptions = {}): ProcessSource {
  const sessions = opts.sessions ?? (process.platform === 'linux' ? 'column' : 'derive');
  const envFlag = opts.envFlag ?? (process.platform === 'linux' ? 'e' : process.platform === 'darwin' ? '-E' : '-e');
  const timeout = opts.timeoutMs ?? DEFAULTS.procFactsTimeoutMs;
  const psCommand = opts.commands?.ps ?? 'ps';
  const lsofCommand = opts.commands?.lsof ?? 'lsof';

  /** ps's output; "no such process" is an empty answer, a ps that cannot run or answer an error. */
  const ps = (args: string[]): string => {
    const r = spawnSync(psCommand, args, { encoding: 'utf8', env: toolEnv(), timeout, maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.error) {
      const code = (r.error as NodeJS.ErrnoException).code;
      const why = code === 'ETIMEDOUT' ? `did not answer within ${timeout} ms` : code === 'ENOENT' ? 'is not installed (not on PATH)' : r.error.message;
      throw new SnakepitError('PROC_FACTS_UNAVAILABLE', `cannot read process facts: \`${psCommand}\` ${why}; fix: make \`ps\` available, or on Linux use /proc (unset SNAKEPIT_PROC_FACTS)`);
    }
    // Both procps and BSD ps exit 1 with nothing on stderr when no process matched.
    const stderr = r.stderr.trim();
    if (r.status !== 0 && stderr && !r.stdout.trim()) {
      throw new SnakepitError('PROC_FACTS_UNAVAILABLE', `cannot read process facts: \`${psCommand} ${args.join(' ')}\` failed: ${stderr.split('\n')[0]}; fix: a ps that accepts these keywords (procps, or BSD / macOS ps)`);
    }
    return r.stdout;
  };
  const rows = (pids?: readonly number[]): PsRow[] => parsePsRows(ps(pids ? ['-o', PS_COLUMNS, '-p', pids.join(',')] : ['-A', '-o', PS_COLUMNS]));
  const row = (pid: number): PsRow | undefined => (valid(pid) ? rows([pid]).find((r) => r.pid === pid) : undefined);
  const sidsOf = (all: readonly PsRow[]): ((r: PsRow) => number) => {
    if (sessions === 'column') return (r) => r.sess;
    const derived = deriveSessions(all);
    return (r) => derived.get(r.pid) ?? r.pgid;
  };
  const core = (r: PsRow, sid: number): Omit<ProcessFacts, 'uid'> => ({ pid: r.pid, state: r.stat[0]!, ppid: r.ppid, pgid: r.pgid, sid, startTime: r.startTime });
  const commands = (pids: readonly number[], showEnv: boolean): Map<number, string> =>
    parseCommands(ps([...(showEnv ? [envFlag] : []), '-ww', '-o', 'pid=,command=', '-p', pids.join(',')]));

  let rss = new Map<number, number>();
  let rssAt = -Infinity;
  let refreshing = false;
  const refreshRss = (): void => {
    refreshing = true;
    execFile(psCommand, ['-A', '-o', 'pid=,rss='], { encoding: 'utf8', env: toolEnv(), timeout, maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      refreshing = false;
      rssAt = Date.now();
      rss = err ? new Map() : parseRss(stdout);
    });
  };

  return {
    kind: 'ps',
    identity(pid: number): ProcessIdentity | undefined {
      const r = row(pid);
      return r ? { state: r.stat[0]!, startTime: r.startTime } : undefined;
    },
    facts(pid: number): ProcessFacts | undefined {
      if (!valid(pid)) return undefined;
      // Derived sessions need the whole table (parents, group leaders); the column needs one row.
      const all = sessions === 'column' ? rows([pid]) : rows();
      const r = all.find((x) => x.pid === pid);
      return r ? { ...core(r, sidsOf(all)(r)), uid: uidOf(r) } : undefined;
    },
    table(keep = () => true): ProcessFacts[] {
      const all = rows();
      const sid = sidsOf(all);
      const out: ProcessFacts[] = [];
      for (const r of all) {
        const c = core(r, sid(r));
        if (keep(c)) out.push({ ...c, uid: uidOf(r) });
      }
      return out;
    },
    rssBytes(pid: number): number {
      if (!refreshing && Date.now() - rssAt >= RSS_SNAPSHOT_MS) refreshRss();
      return (rss.get(pid) ?? 0) * 1024;
    },
    commandLine(pid: number): string[] | undefined {
      if (!valid(pid)) return undefined;
      const command = commands([pid], false).get(pid);
      return command ? [command] : undefined;
    },
    environValues(pids: readonly number[], name: string): Map<number, string> {
      const out = new Map<number, string>();
      const live = pids.filter(valid);
      if (live.length === 0) return out;
      // The environment is what follows the command: read both, and keep a value only where the
      // second starts with the first (the same process, its environment shown).
      const plain = commands(live, false);
      const shown = commands(live, true);
      for (const pid of live) {
        const command = plain.get(pid);
        const full = shown.get(pid);
        const value = command !== undefined && full !== undefined ? envValue(command, full, name) : undefined;
        if (value !== undefined) out.set(pid, value);
      }
      return out;
    },
    holdsOpen(pid: number, path: string): boolean {
      if (!valid(pid)) return false;
      // lsof matches a named file by device and inode. Without lsof nothing is proven.
      const r = spawnSync(lsofCommand, ['-w', '-a', '-p', String(pid), '-t', '--', path], { encoding: 'utf8', env: toolEnv(), timeout, stdio: ['ignore', 'pipe', 'ignore'] });
      if (r.error || typeof r.stdout !== 'string') return false;
      return r.stdout.split('\n').some((l) => l.trim() === String(pid));
    },
  };
}

/** Whether `lsof` can be run here (the ps source proves open files with it). */
export function lsofRuns(): boolean {
  return !spawnSync('lsof', ['-v'], { env: toolEnv(), timeout: DEFAULTS.procFactsTimeoutMs, stdio: 'ignore' }).error;
}
