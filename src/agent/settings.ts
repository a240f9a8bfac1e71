// What an agent runs, as `up` compares it with what it was asked to run: a second `up` on a home
// whose agent runs other settings (other tools, sizes, config) must not answer "already running,
// nothing to do" and leave the caller with the wrong agent. Kept in agent.json (0600), so the
// values of a pool's `env` (API keys) are never written: only a digest of them, to tell that
// they differ.
import { createHash } from 'node:crypto';
import type { PoolOptions } from './pool.js';
import type { TcpOptions } from '../security/listen.js';

export interface RunSettings {
  /** Each pool's settings, flat, by the names users write (`workers`, `tools`, …). */
  pools: Array<Record<string, string | number | null>>;
  metricsPort: number | null;
  /** A cluster's agents (its router's settings), or null for an agent. */
  agents: number | null;
  /** The TCP listener and labels as asked (`up --listen …`), or null (absent in agent.json of older versions). */
  network?: string | null;
}

export function runSettings(pools: readonly PoolOptions[], extra: { metricsPort?: number | undefined; agents?: number | undefined; network?: string | undefined } = {}): RunSettings {
  return {
    pools: pools.map((p) => {
      const { spec, recycle, size, ...rest } = p;
      const { env, runId: _runId, runtimeDir: _runtimeDir, transport, tools, ...specRest } = spec;
      const flat: Record<string, string | number | null> = { name: p.name, workers: size, tools: tools ?? 'snakepit.demo (built-in)', workerTransport: transport };
      for (const [k, v] of Object.entries({ ...rest, ...specRest })) if (k !== 'name') flat[k] = typeof v === 'number' || typeof v === 'string' ? v : JSON.stringify(v);
      flat.maxRequests = recycle.maxRequests;
      flat.ttlMs = recycle.ttlMs;
      flat.maxRssMb = recycle.maxRssMb;
      flat.recycleJitter = recycle.jitter;
      flat.env = Object.keys(env).length === 0 ? null : digest(env);
      return flat;
    }),
    metricsPort: extra.metricsPort || null,
    agents: extra.agents ?? null,
    network: extra.network ?? null,
  };
}

type FlatPool = RunSettings['pools'][number];

/** A setting's value as a person reads it. */
const show = (v: string | number | null | undefined): string => (v === null || v === undefined ? 'none' : String(v));

/** The keys whose values differ between two pools' flat settings (`up`'s comparison and a reload's both). */
function changedKeys(a: FlatPool, b: FlatPool): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((key) => a[key] !== b[key]);
}

/** Each way `asked` differs from `running`, as a line a person reads; empty when they are the same. */
export function settingsDifferences(running: RunSettings, asked: RunSettings): string[] {
  const out: string[] = [];
  if (running.agents !== asked.agents) out.push(running.agents === null ? `an agent runs, a cluster of ${asked.agents} agents is asked` : asked.agents === null ? `a cluster of ${running.agents} agents runs, an agent is asked` : `agents: ${running.agents} running, ${asked.agents} asked`);
  if (running.metricsPort !== asked.metricsPort) out.push(`metrics port: ${show(running.metricsPort)} running, ${show(asked.metricsPort)} asked`);
  if ((running.network ?? null) !== (asked.network ?? null)) out.push(`TCP listener and labels: ${show(running.network)} running, ${show(asked.network)} asked`);
  const byName = (list: RunSettings['pools']): Map<string, FlatPool> => new Map(list.map((p) => [String(p.name), p]));
  const was = byName(running.pools);
  const now = byName(asked.pools);
  for (const name of was.keys()) if (!now.has(name)) out.push(`pool ${name}: running, not asked`);
  for (const [name, p] of now) {
    const r = was.get(name);
    if (!r) {
      out.push(`pool ${name}: asked, not running`);
      continue;
    }
    for (const key of changedKeys(r, p)) {
      out.push(key === 'env' ? `pool ${name}: env differs (values not shown)` : `pool ${name}: ${key} ${show(r[key])} running, ${show(p[key])} asked`);
    }
  }
  return out;
}

/** What a reload does to one pool (reloadPlan). */
export interface PoolReload {
  name: string;
  /** The pool's options as re-read. */
  next: PoolOptions;
  /** The new size when the config's size changed since it was last read, else undefined. */
  resize: number | undefined;
  /** Each changed setting, as a line a person reads ("pool default: workers 2 → 4"). */
  changes: string[];
}

/**
 * What a reload applies, from the pools as last read (`was`) and as read now (`next`); `only`
 * limits it to one pool. Pure. A pool added to or removed from the config cannot be applied by a
 * reload (its workers, sockets and sessions are the agent's own): that is a CONFIG_INVALID
 * message naming the fix, raised before any worker is touched.
 */
export function reloadPlan(was: readonly PoolOptions[], next: readonly PoolOptions[], only?: string): PoolReload[] | { error: string } {
  const before = new Map(was.map((p) => [p.name, p]));
  const after = new Map(next.map((p) => [p.name, p]));
  const added = [...after.keys()].filter((n) => !before.has(n));
  const removed = [...before.keys()].filter((n) => !after.has(n));
  if (added.length || removed.length) {
    const what = [added.length ? `adds ${added.map((n) => `'${n}'`).join(', ')}` : '', removed.length ? `drops ${removed.map((n) => `'${n}'`).join(', ')}` : ''].filter(Boolean).join(' and ');
    return { error: `the config now ${what}: a reload cannot add or remove pools; start the agent again with \`snakepit up --replace\` (drains this one, starts the new config)` };
  }
  const out: PoolReload[] = [];
  for (const [name, p] of after) {
    if (only !== undefined && name !== only) continue;
    const old = before.get(name)!;
    const [a, b] = [runSettings([old]).pools[0]!, runSettings([p]).pools[0]!];
    const changes = changedKeys(a, b).map((key) => (key === 'env' ? `pool ${name}: env changed (values not shown)` : `pool ${name}: ${key} ${show(a[key])} → ${show(b[key])}`));
    out.push({ name, next: p, resize: p.size !== old.size ? p.size : undefined, changes });
  }
  return out;
}

function digest(env: Record<string, string>): string {
  const sorted = Object.keys(env)
    .sort()
    .map((k) => [k, env[k]]);
  return `sha256:${createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 16)}`;
}

/** The TCP listener as `up` compares settings: what was asked (port 0 stays 0), never a secret. */
export function networkSetting(opts: { tcp?: TcpOptions | undefined; labels?: Record<string, string> | undefined }): string | undefined {
  const t = opts.tcp;
  if (!t && !opts.labels) return undefined;
  const parts = t ? [`listen ${t.listen}`, `advertise ${t.advertise ?? 'default'}`, `token file ${t.tokenFile}`, t.tlsCert ? `tls ${t.tlsCert} ${t.tlsKey}${t.tlsClientCa ? ` client ca ${t.tlsClientCa}` : ''}` : 'no tls'] : [];
  if (opts.labels) parts.push(`labels ${Object.entries(opts.labels).map(([k, v]) => `${k}=${v}`).join(',')}`);
  return parts.join(', ');
}
