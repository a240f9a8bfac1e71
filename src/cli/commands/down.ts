// `snakepit down`: stop the home's agent gracefully (in-flight calls finish, workers exit) and
// wait until its process is gone. With no agent running it says so and succeeds. It holds the
// home lock meanwhile, so a `down` racing an `up` waits for that start to finish, then stops the
// agent it started, instead of deleting files under it. Only a process proven to be the home's
// agent (src/daemon/home.ts) is ever signalled.
import { existsSync } from 'node:fs';
import { connect } from '../../api/client.js';
import { DEFAULTS } from '../../defaults.js';
import { SnakepitError } from '../../errors.js';
import { agentState, homePaths, isAlive, lockHome, removeAgentFiles, resolveHome, verifyHome } from '../../daemon/home.js';
import type { CommandResult, Io } from '../output.js';

export async function downCommand(opts: { home?: string }, io?: Io): Promise<CommandResult> {
  const home = resolveHome(opts.home);
  const paths = homePaths(home);
  if (!existsSync(home)) return { json: { ok: true, stopped: false }, text: `no agent running for ${home}` };
  verifyHome(paths);
  const release = await lockHome(paths, 'down', (line) => io?.stderr(`${line}\n`));
  try {
    return await stop(home);
  } finally {
    release();
  }
}

async function stop(home: string): Promise<CommandResult> {
  const paths = homePaths(home);
  const state = agentState(paths);
  if (state.state === 'starting') {
    // Proven (pid, start time, uid, holds agent.pid): SIGTERM stops its workers on the way out.
    process.kill(state.pid, 'SIGTERM');
    await waitGone(state.pid, state.startTime);
    removeAgentFiles(paths);
    return { json: { ok: true, stopped: true, pid: state.pid }, text: `agent stopped while starting (pid ${state.pid})` };
  }
  if (state.state !== 'running') {
    if (state.state === 'stale') removeAgentFiles(paths);
    return { json: { ok: true, stopped: false }, text: `no agent running for ${home}${state.state === 'stale' ? ' (removed stale state files)' : ''}` };
  }
  const { pid, startTime } = state.info;
  const what = state.info.kind === 'router' ? 'router' : 'agent';
  const client = connect({ home });
  try {
    await client.shutdown();
  } catch {
    // Not answering: fall back to SIGTERM on the recorded, verified pid.
    if (isAlive(pid, startTime)) process.kill(pid, 'SIGTERM');
  } finally {
    client.close();
  }
  await waitGone(pid, startTime);
  removeAgentFiles(paths);
  return { json: { ok: true, stopped: true, pid }, text: `${what} stopped (pid ${pid})` };
}

export async function waitGone(pid: number, startTime: number | undefined): Promise<void> {
  const deadline = Date.now() + DEFAULTS.daemonStopTimeoutMs;
  while (isAlive(pid, startTime)) {
    if (Date.now() > deadline) throw new SnakepitError('TIMEOUT', `agent pid ${pid} did not stop within ${DEFAULTS.daemonStopTimeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
