// The Snakepit home: everything of one installation (socket, pid file, agent info, logs).
//
// Trust, as ssh's StrictModes: the home, its parents and every file in it are used only when
// they belong to this user (a parent may also be root's) and nobody else can write them; a
// symlinked home is refused, and only a directory we create is ever chmod'ed. Anything else is
// a HOME_UNSAFE error naming the path, its owner and the fix.
//
// A pid alone never proves an agent is ours (pids are reused), nor do a pid and start time
// written into agent.pid / agent.json (anyone who can write there could copy those of a live,
// unrelated process): the agent must also run as this user and hold agent.pid open, which only
// the process that wrote it does (it keeps the descriptor for its whole life).
import { chmodSync, closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, type Stats } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { DEFAULTS, ENV } from '../defaults.js';
import { acquireLock } from '../lockfile.js';
import { SnakepitError } from '../errors.js';
import { statSafe, writeFileAtomic } from '../files.js';
import { holdsOpen, isAlive, processStartTime, processUid } from '../proc.js';
import type { RunSettings } from '../agent/settings.js';

export { isAlive, processStartTime, writeFileAtomic };

export interface HomePaths {
  home: string;
  socket: string;
  /** The local lane: Exchange without HTTP/2, for clients on this host (see api/local-lane.ts). */
  lane: string;
  pidFile: string;
  infoFile: string;
  logDir: string;
  logFile: string;
  /** The process registry: every worker of every run, until proven gone (src/agent/registry.ts). */
  registryFile: string;
  /** Held by `up` while it starts an agent and by `down` while it stops one (src/lockfile.ts). */
  lockFile: string;
  /** The daemon's own stdout/stderr (crash traces, fatal errors), never rotated under it. */
  crashFile: string;
  /** The id of this home's agent, made by its first `up` and kept (stats, events, errors). */
  idFile: string;
}

/** What a running daemon writes about itself once it is ready. */
export interface AgentInfo {
  /** The agent's id (kept in the home's agent.id). */
  id: string;
  /** `router` when the home's daemon is a cluster's router (absent: an agent). */
  kind?: 'router';
  /** A router's agents and their homes. */
  /** A router's agents: a local cluster's by their sub-home, an etcd router's by the address it dials (their pids are on their own hosts). */
  agents?: Array<{ id: string; home?: string; address?: string; pid: number | undefined }>;
  pid: number;
  /** Process start time, as src/proc.ts reads it (/proc: clock ticks since boot). */
  startTime: number;
  version: string;
  runId: string;
  address: string;
  workers: number;
  workerPids: number[];
  startedAt: string;
  logFile: string;
  pools: Array<{ name: string; workers: number; python: string; tools: string | null }>;
  /** How workers' descendants are contained (src/agent/containment.ts). */
  containment?: string;
  /** What it runs, for `up` to compare with what it is asked (src/agent/settings.ts). */
  settings?: RunSettings;
  /** Its TCP listener (`up --listen`): bound address, advertised address, transport. `address` stays the home's socket. */
  network?: { listen: string; advertise: string; transport: 'tls' | 'mtls' | 'insecure' };
  labels?: Record<string, string>;
  /** Warnings `doctor` repeats (e.g. plaintext off loopback). */
  warnings?: string[];
}

export function resolveHome(home?: string): string {
  if (home) return resolve(home);
  const env = process.env[ENV.home];
  if (env) return resolve(env);
  const state = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(state, 'snakepit');
}

export function homePaths(home: string): HomePaths {
  const logDir = join(home, 'logs');
  return {
    home,
    socket: join(home, 'agent.sock'),
    lane: join(home, 'exchange.sock'),
    pidFile: join(home, 'agent.pid'),
    infoFile: join(home, 'agent.json'),
    logDir,
    logFile: join(logDir, 'agent.log'),
    registryFile: join(home, 'registry.json'),
    lockFile: join(home, 'home.lock'),
    crashFile: join(logDir, 'crash.log'),
    idFile: join(home, 'agent.id'),
  };
}

const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** This home's agent id: the one kept in `agent.id`, else `fresh()` (which is then kept). */
export function homeAgentId(paths: HomePaths, fresh: () => string): string {
  try {
    const id = readFileSync(paths.idFile, 'utf8').trim();
    if (AGENT_ID.test(id)) return id;
  } catch {
    /* none yet */
  }
  const id = fresh();
  writeFileAtomic(paths.idFile, `${id}\n`);
  return id;
}

/**
 * Unix socket paths: sun_path holds 108 bytes on Linux; Node silently truncates a longer path
 * (binding a stray file), and a portable path leaves room for the terminating NUL.
 */
export const MAX_SOCKET_PATH = 107;

/** Fails when the longest socket the home needs would not fit (checked before anything is made). */
export function checkSocketPaths(paths: HomePaths): void {
  const longest = [paths.socket, paths.lane].reduce((a, b) => (Buffer.byteLength(b) > Buffer.byteLength(a) ? b : a));
  const bytes = Buffer.byteLength(longest);
  if (bytes > MAX_SOCKET_PATH) {
    const room = MAX_SOCKET_PATH - (bytes - Buffer.byteLength(paths.home));
    throw new SnakepitError('CONFIG_INVALID', `home path is too long for its unix sockets: ${longest} is ${bytes} bytes, the limit is ${MAX_SOCKET_PATH}; use a --home of at most ${room} bytes`);
  }
}

/** Makes the home if missing (only what it creates gets mode 0700) and proves it can be trusted. */
export function ensureHome(paths: HomePaths): void {
  checkSocketPaths(paths);
  verifyHome(paths); // its parents, before anything is made under them
  makeDirs(paths.home);
  verifyHome(paths);
  makeDirs(paths.logDir); // verified above if it existed (a link or a foreign one is refused)
}

/** Creates `dir` and its missing parents with mode 0700, chmod'ing only those it created. */
function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d) && dirname(d) !== d; d = dirname(d)) missing.unshift(d);
  for (const d of missing) {
    try {
      mkdirSync(d, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue; // made meanwhile: not ours to chmod
      throw err;
    }
    chmodSync(d, 0o700); // mkdir's mode is masked by the umask
  }
}

/** A reason not to trust the home, with the fix; undefined when it is fine or does not exist yet. */
export interface HomeProblem {
  path: string;
  detail: string;
  fix: string;
}

/**
 * Why the home (its parents, itself, its files) cannot be trusted, or undefined. Pure in spirit:
 * only lstat/stat/readdir, nothing is changed.
 */
export function homeProblem(paths: HomePaths, uid = process.getuid?.() ?? 0): HomeProblem | undefined {
  const useOwn = 'use a home of your own: --home DIR or SNAKEPIT_HOME';
  // Parents first (those that exist): whoever can write one could replace the home, even one
  // that does not exist yet.
  for (let d = dirname(paths.home); ; d = dirname(d)) {
    const p = statSafe(d);
    if (p) {
      if (p.uid !== uid && p.uid !== 0) return { path: d, detail: `${d}, a parent of home ${paths.home}, is owned by ${who(p.uid)}, not by you (${who(uid)}) or root; its owner could replace the home`, fix: useOwn };
      if (p.mode & 0o022 && !(p.mode & 0o1000)) return { path: d, detail: `${d}, a parent of home ${paths.home}, is writable by others (mode ${octal(p.mode)}, owner ${who(p.uid)}) without the sticky bit`, fix: `chmod go-w ${d}, or ${useOwn}` };
    }
    if (dirname(d) === d) break;
  }
  let st: Stats;
  try {
    st = lstatSync(paths.home);
  } catch {
    return undefined; // does not exist yet: `up` creates it
  }
  if (st.isSymbolicLink()) {
    let target = '?';
    try {
      target = readlinkSync(paths.home);
    } catch {
      /* keep '?' */
    }
    return { path: paths.home, detail: `home ${paths.home} is a symbolic link (to ${target}), owned by ${who(st.uid)}; a symlinked home is refused`, fix: `pass the real directory (--home ${target.startsWith('/') ? target : 'REAL_DIR'}) if it is yours, else ${useOwn}` };
  }
  if (!st.isDirectory()) return { path: paths.home, detail: `home ${paths.home} is not a directory (owned by ${who(st.uid)})`, fix: useOwn };
  const bad = entryProblem(paths.home, st, uid, 'home');
  if (bad) return bad;
  for (const dir of [paths.home, paths.logDir]) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join(dir, name);
      let fst: Stats;
      try {
        fst = lstatSync(path);
      } catch {
        continue; // removed meanwhile
      }
      const problem = entryProblem(path, fst, uid, path === paths.logDir ? 'log directory' : 'file');
      if (problem) return problem;
    }
  }
  return undefined;
}

function entryProblem(path: string, st: Stats, uid: number, what: string): HomeProblem | undefined {
  if (st.isSymbolicLink()) {
    let target = '?';
    try {
      target = readlinkSync(path);
    } catch {
      /* keep '?' */
    }
    return { path, detail: `${what} ${path} is a symbolic link (to ${target}, owned by ${who(st.uid)}); nothing in the home may be a link`, fix: `rm ${path}` };
  }
  if (st.uid !== uid) {
    return { path, detail: `${what} ${path} is owned by ${who(st.uid)}, not by you (${who(uid)})`, fix: what === 'home' ? `use a home of your own (--home DIR or SNAKEPIT_HOME), or if it is really yours: chown ${uid} ${path}` : `chown ${uid} ${path} if it is yours, else remove it` };
  }
  if (st.mode & 0o022) return { path, detail: `${what} ${path} is writable by others (mode ${octal(st.mode)}, owner ${who(st.uid)})`, fix: `chmod go-w ${path}` };
  return undefined;
}

/**
 * Takes the home lock (`up` while it starts an agent, `down` while it stops one), waiting while
 * another holder lives; `onWait` gets one line saying who holds it. Resolves with the release.
 */
export function lockHome(paths: HomePaths, label: string, onWait: (line: string) => void = () => {}): Promise<() => void> {
  return acquireLock(paths.lockFile, {
    label,
    waitMs: DEFAULTS.homeLockWaitMs,
    onWait: (h) => onWait(`waiting for pid ${h.pid}${h.label ? ` (${h.label})` : ''} to finish with ${paths.home}…`),
    timeout: (h) => new SnakepitError('HOME_LOCKED', `${paths.lockFile} stayed locked for ${DEFAULTS.homeLockWaitMs} ms${h ? ` by pid ${h.pid}${h.label ? ` (${h.label})` : ''}` : ''}; try again once it is done`),
  });
}

/** Throws HOME_UNSAFE when the home cannot be trusted (see `homeProblem`). */
export function verifyHome(paths: HomePaths): void {
  const p = homeProblem(paths);
  if (p) throw new SnakepitError('HOME_UNSAFE', `${p.detail}. Fix: ${p.fix}`);
}

/** "uid 65534 (nobody)" from /etc/passwd, best effort. */
export function who(uid: number): string {
  let name: string | undefined;
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [user, , id] = line.split(':');
      if (Number(id) === uid && id !== '') {
        name = user;
        break;
      }
    }
  } catch {
    /* no passwd file */
  }
  return name ? `uid ${uid} (${name})` : `uid ${uid}`;
}

export function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8)}`;
}

export function readInfo(paths: HomePaths): AgentInfo | undefined {
  try {
    return JSON.parse(readFileSync(paths.infoFile, 'utf8')) as AgentInfo;
  } catch {
    return undefined;
  }
}

export type AgentState =
  | { state: 'running'; info: AgentInfo }
  /** The pid file names a live process (same start time) that has not written agent.json yet. */
  | { state: 'starting'; pid: number; startTime: number }
  | { state: 'stale'; pid: number | undefined }
  | { state: 'none' };

let heldPidFile: number | undefined;

/**
 * Writes "PID STARTTIME" to agent.pid and keeps it open for the life of this process: holding it
 * open is what proves, to `agentState`, that the process named in it is the agent.
 */
export function writePidFile(paths: HomePaths): void {
  writeFileAtomic(paths.pidFile, `${process.pid} ${processStartTime(process.pid) ?? 0}\n`);
  if (heldPidFile !== undefined) closeSync(heldPidFile);
  heldPidFile = openSync(paths.pidFile, 'r');
}

/** Closes the descriptor `writePidFile` kept (the agent is stopping). */
export function releasePidFile(): void {
  if (heldPidFile !== undefined) closeSync(heldPidFile);
  heldPidFile = undefined;
}

function readPidFile(paths: HomePaths): { pid: number; startTime: number } | undefined {
  try {
    const [pid, startTime] = readFileSync(paths.pidFile, 'utf8').trim().split(/\s+/).map(Number);
    return pid ? { pid, startTime: startTime ?? 0 } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` (with `startTime`) is this home's agent: alive, run by this user, and holding
 * agent.pid open. A pid file or agent.json naming any other live process proves nothing.
 */
export function isHomeAgent(paths: HomePaths, pid: number, startTime: number | undefined): boolean {
  if (!Number.isInteger(pid) || pid <= 1 || !isAlive(pid, startTime)) return false;
  if (processUid(pid) !== (process.getuid?.() ?? 0)) return false;
  return pid === process.pid ? heldPidFile !== undefined : holdsOpen(pid, paths.pidFile);
}

/** Whether the home's recorded agent still runs (same pid and start time, proven as above). */
export function agentState(paths: HomePaths): AgentState {
  const info = readInfo(paths);
  const pidFile = readPidFile(paths);
  if (info && isHomeAgent(paths, info.pid, info.startTime)) return { state: 'running', info };
  if (!info && pidFile && isHomeAgent(paths, pidFile.pid, pidFile.startTime)) return { state: 'starting', pid: pidFile.pid, startTime: pidFile.startTime };
  if (info || pidFile || existsSync(paths.socket) || existsSync(paths.lane)) return { state: 'stale', pid: info?.pid ?? pidFile?.pid };
  return { state: 'none' };
}

/**
 * Removes the files of an agent that is no longer running; does nothing while an agent (proven
 * as in `agentState`) owns the home, so a late caller never deletes a successor's files.
 */
export function removeAgentFiles(paths: HomePaths): void {
  const s = agentState(paths);
  if (s.state === 'running' || s.state === 'starting') return;
  for (const f of [paths.socket, paths.lane, paths.pidFile, paths.infoFile]) rmSync(f, { force: true });
}
