// The Snakepit home: everything of one installation (socket, pid file, agent info, logs). A pid
// alone never proves an agent is ours (pids are reused): the process start time recorded in
// agent.json must still match /proc/PID/stat.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ENV } from '../defaults.js';
import { SnakepitError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import { isAlive, processStartTime } from '../proc.js';

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
}

/** What a running daemon writes about itself once it is ready. */
export interface AgentInfo {
  pid: number;
  /** Process start time (clock ticks since boot, /proc/PID/stat field 22). */
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
  };
}

/** Unix socket paths are limited to 107 bytes on Linux. */
const MAX_SOCKET_PATH = 107;

export function ensureHome(paths: HomePaths): void {
  if (Buffer.byteLength(paths.socket) > MAX_SOCKET_PATH) {
    throw new SnakepitError('CONFIG_INVALID', `home path is too long for a unix socket (${paths.socket}); use a shorter --home`);
  }
  mkdirSync(paths.logDir, { recursive: true, mode: 0o700 });
  chmodSync(paths.home, 0o700);
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
  | { state: 'starting'; pid: number }
  | { state: 'stale'; pid: number | undefined }
  | { state: 'none' };

/** The pid file holds "PID STARTTIME": enough to prove the process is still the one that wrote it. */
export function writePidFile(paths: HomePaths): void {
  writeFileAtomic(paths.pidFile, `${process.pid} ${processStartTime(process.pid) ?? 0}\n`);
}

function readPidFile(paths: HomePaths): { pid: number; startTime: number } | undefined {
  try {
    const [pid, startTime] = readFileSync(paths.pidFile, 'utf8').trim().split(/\s+/).map(Number);
    return pid ? { pid, startTime: startTime ?? 0 } : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the home's recorded agent still runs (same pid and start time). */
export function agentState(paths: HomePaths): AgentState {
  const info = readInfo(paths);
  if (info && isAlive(info.pid, info.startTime)) return { state: 'running', info };
  const pidFile = readPidFile(paths);
  if (!info && pidFile && isAlive(pidFile.pid, pidFile.startTime)) return { state: 'starting', pid: pidFile.pid };
  if (info || pidFile || existsSync(paths.socket)) return { state: 'stale', pid: info?.pid ?? pidFile?.pid };
  return { state: 'none' };
}

/** Removes the files of an agent that is no longer running. */
export function removeAgentFiles(paths: HomePaths): void {
  for (const f of [paths.socket, paths.lane, paths.pidFile, paths.infoFile]) rmSync(f, { force: true });
}
