// `snakepit cluster up|status|down`: a local cluster, several agents behind one router, in one
// home. `cluster up` starts the router daemon, which starts and supervises its agents (each in a
// sub-home); the home's sockets are the router's, so plain `snakepit exec`, `stats`, `dashboard`
// and `connect()` go through it unchanged. `cluster down` stops everything and leaves nothing.
import { connect } from '../../api/client.js';
import type { AgentStats, ClusterAgentStats } from '../../client/types.js';
import { agentState, homePaths, readInfo, resolveHome } from '../../daemon/home.js';
import { SnakepitError } from '../../errors.js';
import type { CommandResult, Io } from '../output.js';
import { downCommand } from './down.js';
import { upCommand, type UpOptions } from './up.js';
import { formatDuration } from './stats.js';
import { targetOptions, type TargetFlags } from '../target.js';

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
  router: { id: string; pid: number; address: string; version: string; uptimeMs: number; warnings?: string[] };
  /** Where the agents come from: `local` (this host), or `etcd` (`degraded` while etcd is lost: routing goes on over the last view). */
  membership?: NonNullable<AgentStats['membership']>;
  agents: Array<Omit<ClusterAgentStats, 'stats'>>;
}

export async function clusterStatusCommand(opts: TargetFlags): Promise<CommandResult> {
  const client = connect(targetOptions(opts));
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
    router: { id: stats.agent.id, pid: stats.agent.pid, address: client.address, version: stats.agent.version, uptimeMs: stats.agent.uptimeMs, ...(stats.agent.warnings?.length ? { warnings: stats.agent.warnings } : {}) },
    ...(stats.membership ? { membership: stats.membership } : {}),
    agents: stats.agents.map(({ stats: _own, ...a }) => a),
  };
  return { json: status, text: formatClusterStatus(status, stats) };
}

export function formatClusterStatus(s: ClusterStatus, stats?: AgentStats): string {
  const out = [`router   ${s.router.id}, pid ${s.router.pid}, v${s.router.version}, up ${formatDuration(s.router.uptimeMs)}, ${s.router.address}`];
  const m = s.membership;
  if (m && m.kind === 'etcd') {
    const since = m.since ? ` since ${new Date(m.since).toISOString()}` : '';
    out.push(`members  etcd ${(m.endpoints ?? []).join(',')}: ${m.state === 'ok' ? 'ok' : `DEGRADED${since} (${m.lastError ?? 'unreachable'}): routing on the last view`}`);
  }
  if (stats) out.push(`calls    ${stats.calls.completed} completed, ${stats.calls.failed} failed, ${stats.calls.inFlight} in flight, ${stats.calls.retries ?? 0} retried elsewhere; p50 ${stats.latencyMs.p50} ms, p99 ${stats.latencyMs.p99} ms`);
  const header = ['AGENT', 'STATE', 'PID', 'WORKERS', 'IN-FLIGHT', 'QUEUE', 'CAPACITY', 'SESSIONS', 'PHI', 'BREAKER', 'RESTARTS'];
  const rows = s.agents.map((a) => [a.id, a.state, String(a.pid || '-'), String(a.workerPids.length), String(a.inFlight), String(a.queueDepth), String(a.capacity), String(a.sessions), a.phi >= 1e9 ? '∞' : a.phi.toFixed(2), a.breaker, String(a.restarts)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  out.push('', ...[header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()));
  // What the router and its agents warn about (e.g. plaintext off loopback), last, where it is seen.
  const warnings = [...(s.router.warnings ?? []).map((w) => `router: ${w}`), ...(stats?.agents ?? []).flatMap((a) => (a.stats?.agent.warnings ?? []).map((w) => `${a.id}: ${w}`))];
  if (warnings.length) out.push('', ...warnings.map((w) => `WARNING  ${w}`));
  return out.join('\n');
}

export async function clusterDownCommand(opts: { home?: string }, io: Io): Promise<CommandResult> {
  const home = resolveHome(opts.home);
  // Which agents go with it: asked of the router itself (the cluster may have been scaled).
  let agents: string[] = [];
  if (agentState(homePaths(home)).state === 'running') {
    const client = connect({ home });
    agents = await client.stats().then(
      (s) => (s.agents ?? []).map((a) => a.id),
      () => (readInfo(homePaths(home))?.agents ?? []).map((a) => a.id),
    );
    client.close();
  }
  const result = await downCommand(opts, io);
  const json = { ...(result.json as object), agents };
  return { json, text: agents.length ? `${result.text}; its ${agents.length} agents stopped with it (${agents.join(', ')})` : result.text };
}

/** `cluster cordon|uncordon|drain AGENT`, `cluster scale N`: the router's operations on its agents. */
export async function clusterControlCommand(op: 'cordon' | 'uncordon' | 'drain' | 'scale', target: string, opts: TargetFlags & { deadline?: number }): Promise<CommandResult> {
  const client = connect(targetOptions(opts));
  try {
    if (op === 'scale') {
      const count = Number(target);
      if (!/^\d+$/.test(target) || count < 1) throw new SnakepitError('USAGE', `cluster scale needs a whole number of agents ≥ 1, got '${target}'`);
      const r = await client.scale(count);
      return { json: { ok: true, ...r }, text: `the cluster has ${r.agents.length} agents: ${r.agents.join(', ')}` };
    }
    const r = op === 'drain' ? await client.drainAgent(target, opts.deadline ? opts.deadline * 1000 : undefined) : await client.cordon(target, op === 'cordon');
    const what = op === 'drain' ? (r.drained ? 'drained and stopped; it stays cordoned until `cluster uncordon`' : 'stopped at its deadline with calls left; it stays cordoned') : op === 'cordon' ? 'cordoned: no new calls or sessions go to it' : 'uncordoned: it takes calls again';
    return { json: { ok: true, ...r }, text: `agent ${r.agent} ${what} (state ${r.state})` };
  } finally {
    client.close();
  }
}
