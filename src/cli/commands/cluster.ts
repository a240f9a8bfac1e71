// `snakepit cluster up|status|down`: a local cluster, several agents behind one router, in one
// home. `cluster up` starts the router daemon, which starts and supervises its agents (each in a
// sub-home); the home's sockets are the router's, so plain `snakepit exec`, `stats`, `dashboard`
// and `connect()` go through it unchanged. `cluster down` stops everything and leaves nothing.
import { connect } from '../../api/client.js';
import type { ClusterAgentStats } from '../../cluster/router.js';
import type { AgentStats } from '../../client/types.js';
import { agentState, homePaths, readInfo, resolveHome } from '../../daemon/home.js';
import { SnakepitError } from '../../errors.js';
import type { CommandResult, Io } from '../output.js';
import { downCommand } from './down.js';
import { upCommand, type UpOptions } from './up.js';
import { formatDuration } from './stats.js';

export async function clusterUpCommand(opts: UpOptions & { agents: number }, io: Io): Promise<CommandResult> {
  if (!Number.isInteger(opts.agents) || opts.agents < 1) throw new SnakepitError('USAGE', `--agents needs a whole number ≥ 1, got ${opts.agents}`);
  const home = resolveHome(opts.home);
  const state = agentState(homePaths(home));
  if (state.state === 'running' && state.info.kind !== 'router') {
    throw new SnakepitError('USAGE', `an agent (not a cluster) already runs for ${home} (pid ${state.info.pid}); stop it with \`snakepit down${opts.home ? ` --home ${home}` : ''}\` or use another --home`);
  }
  return upCommand(opts, io);
}

/** The document of `cluster status --json`. */
export interface ClusterStatus {
  router: { id: string; pid: number; address: string; version: string; uptimeMs: number };
  agents: Array<Omit<ClusterAgentStats, 'stats'>>;
}

export async function clusterStatusCommand(opts: { home?: string; address?: string }): Promise<CommandResult> {
  const client = connect({ ...(opts.home ? { home: opts.home } : {}), ...(opts.address ? { address: opts.address } : {}) });
  let stats: AgentStats;
  try {
    stats = await client.stats();
  } finally {
    client.close();
  }
  if (stats.agent.kind !== 'router' || !stats.agents) {
    throw new SnakepitError('USAGE', `the agent at ${client.address} is a single agent, not a cluster's router; start a cluster with \`snakepit cluster up --agents 3\``);
  }
  const status: ClusterStatus = {
    router: { id: stats.agent.id, pid: stats.agent.pid, address: client.address, version: stats.agent.version, uptimeMs: stats.agent.uptimeMs },
    agents: stats.agents.map(({ stats: _own, ...a }) => a),
  };
  return { json: status, text: formatClusterStatus(status, stats) };
}

export function formatClusterStatus(s: ClusterStatus, stats?: AgentStats): string {
  const out = [`router   ${s.router.id}, pid ${s.router.pid}, v${s.router.version}, up ${formatDuration(s.router.uptimeMs)}, ${s.router.address}`];
  if (stats) out.push(`calls    ${stats.calls.completed} completed, ${stats.calls.failed} failed, ${stats.calls.inFlight} in flight, ${stats.calls.retries ?? 0} retried elsewhere; p50 ${stats.latencyMs.p50} ms, p99 ${stats.latencyMs.p99} ms`);
  const header = ['AGENT', 'STATE', 'PID', 'WORKERS', 'IN-FLIGHT', 'QUEUE', 'CAPACITY', 'SESSIONS', 'PHI', 'BREAKER', 'RESTARTS'];
  const rows = s.agents.map((a) => [a.id, a.state, String(a.pid || '-'), String(a.workerPids.length), String(a.inFlight), String(a.queueDepth), String(a.capacity), String(a.sessions), a.phi >= 1e9 ? '∞' : a.phi.toFixed(2), a.breaker, String(a.restarts)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  out.push('', ...[header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()));
  return out.join('\n');
}

export async function clusterDownCommand(opts: { home?: string }, io: Io): Promise<CommandResult> {
  const home = resolveHome(opts.home);
  const info = readInfo(homePaths(home));
  const result = await downCommand(opts, io);
  // The router stops its agents before it exits; say which.
  const agents = info?.kind === 'router' ? (info.agents ?? []).map((a) => a.id) : [];
  const json = { ...(result.json as object), agents };
  return { json, text: agents.length ? `${result.text}; its ${agents.length} agents stopped with it (${agents.join(', ')})` : result.text };
}
