// `snakepit drain`: new calls fail with DRAINING, accepted calls finish (or the deadline passes),
// then the agent and its workers stop. Waits until the agent process is gone.
import { connect } from '../../api/client.js';
import { agentState, homePaths, removeAgentFiles, resolveHome, verifyHome } from '../../daemon/home.js';
import { SnakepitError } from '../../errors.js';
import { waitGone } from './down.js';
import type { CommandResult } from '../output.js';

export async function drainCommand(opts: { home?: string; deadline?: number }): Promise<CommandResult> {
  const home = resolveHome(opts.home);
  const paths = homePaths(home);
  verifyHome(paths);
  const state = agentState(paths);
  if (state.state !== 'running') throw new SnakepitError('AGENT_UNAVAILABLE', `no agent running for ${home}; nothing to drain`);
  const client = connect({ home });
  let result: { drained: boolean; pid: number };
  try {
    result = await client.drain(opts.deadline ? opts.deadline * 1000 : 0);
  } finally {
    client.close();
  }
  await waitGone(state.info.pid, state.info.startTime);
  removeAgentFiles(paths);
  return {
    json: { ok: true, drained: result.drained, pid: result.pid },
    text: result.drained ? `drained and stopped (pid ${result.pid})` : `deadline passed with calls still running; stopped anyway (pid ${result.pid})`,
  };
}
