// `snakepit drain`: new calls fail with DRAINING, accepted calls finish (or the deadline passes),
// then the agent and its workers stop. Waits until the agent process is gone (of a home's agent;
// one reached with --address is drained over the Agent API and stops by itself).
import { connect } from '../../api/client.js';
import { agentState, homePaths, removeAgentFiles, resolveHome, verifyHome } from '../../daemon/home.js';
import { SnakepitError } from '../../errors.js';
import { waitGone } from './down.js';
import type { CommandResult } from '../output.js';
import { isLocal, targetOptions, type TargetFlags } from '../target.js';

export async function drainCommand(opts: TargetFlags & { deadline?: number }): Promise<CommandResult> {
  const target = targetOptions(opts);
  // A remote agent: drained over the Agent API; its process is not ours to wait for.
  if (!isLocal(target)) {
    const client = connect(target);
    try {
      const r = await client.drain(opts.deadline ? opts.deadline * 1000 : 0);
      return { json: { ok: true, drained: r.drained, pid: r.pid }, text: `${r.drained ? 'drained' : 'deadline passed with calls still running'}; the agent at ${client.address} (pid ${r.pid}) stops now` };
    } finally {
      client.close();
    }
  }
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
