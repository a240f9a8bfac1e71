// `snakepit stats`: agent, workers, queue, calls and latency.
import { connect } from '../../api/client.js';
import type { AgentStats } from '../../client/types.js';
import { processIo, type CommandResult } from '../output.js';
import { warnOnVersionMismatch } from '../version-check.js';
import { isLocal, targetOptions, type TargetFlags } from '../target.js';
import { count } from '../../text.js';
import { TRANSPORT_TEXT } from '../../security/listen.js';

export async function statsCommand(opts: TargetFlags): Promise<CommandResult> {
  const target = targetOptions(opts);
  if (isLocal(target)) warnOnVersionMismatch(opts.home, processIo.stderr);
  const client = connect(target);
  try {
    const stats = await client.stats();
    return { json: stats, text: formatStats(stats) };
  } finally {
    client.close();
  }
}

export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatStats(s: AgentStats): string {
  const out = [
    `${s.agent.kind === 'router' ? 'router ' : 'agent  '}  pid ${s.agent.pid}, v${s.agent.version}, up ${formatDuration(s.agent.uptimeMs)}, run ${s.agent.runId}`,
    `calls    ${s.calls.completed} completed, ${s.calls.failed} failed, ${s.calls.inFlight} in flight, ${s.queue.depth} queued`,
    `latency  p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms`,
  ];
  const n = s.agent.network;
  if (n) out.push(`listen   ${n.listen} (${TRANSPORT_TEXT[n.transport]}, token required), advertised as ${n.advertise}`);
  if (s.agent.labels && Object.keys(s.agent.labels).length) out.push(`labels   ${Object.entries(s.agent.labels).map(([k, v]) => `${k}=${v}`).join(', ')}`);
  for (const w of s.agent.warnings ?? []) out.push(`WARNING  ${w}`);
  for (const p of s.pools) {
    const health = p.degraded ? `DEGRADED: ${p.degraded.split('\n')[0]}` : 'ok';
    out.push(`pool     ${p.name}: ${count(p.size, 'worker')}, ${count(p.tools, 'tool')}, affinity ${p.affinity}, ${p.recycled} recycled, ${health}`);
  }
  const header = ['WORKER', 'PID', 'STATE', 'IN-FLIGHT', 'CALLS', 'RESTARTS', 'RECYCLES', 'RSS', 'UPTIME'];
  // Behind a router worker ids repeat across agents: name them as restartWorker takes them.
  const rows = s.workers.map((w) => [w.agent ? `${w.agent}/${w.id}` : w.id, String(w.pid), w.state, String(w.inFlight), String(w.requests), String(w.restarts), String(w.recycles), mib(w.rssBytes), formatDuration(w.uptimeMs)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  out.push('', ...[header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()));
  return out.join('\n');
}
