// The public options of an agent, checked once here and turned into fully defaulted pool options;
// the engine behind trusts them. Sources, later ones winning: the project config file (its
// top-level settings, then the pool's own), SNAKEPIT_* environment variables, then options /
// command-line flags. Bad input fails with CONFIG_INVALID naming the setting.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { DEFAULTS } from '../defaults.js';
import { PYTHON_RUNTIME_DIR } from '../paths.js';
import { checkPoolSettings, configError, envSettings, type EnvVars, type PoolSettings } from '../config/schema.js';
import type { AgentOptions } from './agent-options.js';
import type { PoolOptions } from './pool.js';

export type { AgentOptions, PoolSettings };

export const CONFIG_FILE = 'snakepit.config.json';
const NON_POOL_KEYS = ['pool', 'pools', 'config', 'logger', 'onEvent'] as const;

interface PoolPlan {
  name: string;
  settings: PoolSettings;
  /** Directory that relative `tools` and `cwd` are resolved against. */
  baseDir: string;
}

interface ConfigFile {
  path: string;
  defaults: PoolSettings;
  pools: Record<string, PoolSettings> | undefined;
}

/** Reads and validates a config file: `{ ...defaults, "pools": { NAME: {...settings} } }`. */
export function readConfigFile(path: string): ConfigFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw configError(path, `cannot read the config file: ${why}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw configError(path, 'the config file must hold a JSON object');
  const { pools, $schema: _schema, ...rest } = raw as Record<string, unknown>;
  // 'pools' was taken out above; named here so a typo of it ("pool") is suggested as 'pools'.
  const defaults = checkPoolSettings(rest, '', ['pools']);
  let checked: Record<string, PoolSettings> | undefined;
  if (pools !== undefined) {
    if (pools === null || typeof pools !== 'object' || Array.isArray(pools) || Object.keys(pools).length === 0) {
      throw configError('pools', 'expected an object of named pools, e.g. {"default": {"tools": "./tools.py"}}');
    }
    checked = {};
    for (const [name, settings] of Object.entries(pools)) {
      if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw configError(`pools.${name}`, 'pool names may use letters, digits, _ . and -');
      checked[name] = checkPoolSettings(settings, `pools.${name}`);
    }
  }
  return { path, defaults, pools: checked };
}

/** The pools an agent should run, with their merged (still partial) settings. */
export function planPools(opts: AgentOptions, cwd: string, env: EnvVars = process.env): PoolPlan[] {
  const flags = checkPoolSettings(opts, '', NON_POOL_KEYS);
  const fromEnv = envSettings(env);
  if (opts.config !== undefined) {
    const file = readConfigFile(resolve(cwd, opts.config));
    const baseDir = dirname(file.path);
    const pools = opts.pools ?? file.pools ?? { [opts.pool ?? 'default']: {} };
    return Object.entries(pools).map(([name, own]) => ({ name, settings: { ...file.defaults, ...checkPoolSettings(own, `pools.${name}`), ...fromEnv, ...flags }, baseDir }));
  }
  if (opts.pools !== undefined) {
    if (Object.keys(opts.pools).length === 0) throw configError('pools', 'expected at least one pool');
    return Object.entries(opts.pools).map(([name, own]) => ({ name, settings: { ...flags, ...checkPoolSettings(own, `pools.${name}`), ...fromEnv }, baseDir: cwd }));
  }
  return [{ name: opts.pool ?? 'default', settings: { ...fromEnv, ...flags }, baseDir: cwd }];
}

/** Resolves a tools spec: a path (has a slash or ends in .py) must exist; a module name is kept. */
export function resolveToolsSpec(tools: string | undefined, baseDir: string, key = 'tools'): string | undefined {
  if (tools === undefined) return undefined;
  if (typeof tools !== 'string' || tools.trim() === '') throw configError(key, 'expected a .py file or a module name');
  const looksLikePath = tools.endsWith('.py') || tools.includes('/');
  if (!looksLikePath) {
    if (!/^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$/.test(tools)) throw configError(key, `'${tools}' is neither a .py file nor a Python module name`);
    return tools;
  }
  const path = isAbsolute(tools) ? tools : resolve(baseDir, tools);
  if (!existsSync(path)) {
    // `--tools ./textstats` for ./textstats.py: say the name that exists.
    const withPy = !path.endsWith('.py') && existsSync(`${path}.py`) ? `; did you mean '${tools}.py'?` : '';
    throw configError(key, `file not found: ${path}${withPy}`);
  }
  if (!statSync(path).isFile()) throw configError(key, `not a file: ${path}`);
  return path;
}

/** Fully defaulted options of one pool. */
export function poolOptions(plan: PoolPlan, python: string): PoolOptions {
  const s = plan.settings;
  const maxPayloadBytes = s.maxPayloadBytes ?? DEFAULTS.maxPayloadBytes;
  return {
    name: plan.name,
    size: s.workers ?? DEFAULTS.workers,
    spec: {
      python,
      transport: s.workerTransport ?? DEFAULTS.workerTransport,
      runtimeDir: PYTHON_RUNTIME_DIR,
      tools: resolveToolsSpec(s.tools, plan.baseDir, `pools.${plan.name}.tools`),
      threads: s.threads ?? DEFAULTS.threads,
      env: s.env ?? {},
      cwd: resolve(plan.baseDir, s.cwd ?? '.'),
      runId: '',
      // Room for the frame header around a payload of the maximum size.
      maxFrameBytes: maxPayloadBytes + 64 * 1024,
      stderrTailLines: s.stderrTailLines ?? DEFAULTS.stderrTailLines,
      logLineMaxBytes: s.logLineMaxBytes ?? DEFAULTS.logLineMaxBytes,
    },
    affinity: s.affinity ?? DEFAULTS.affinity,
    maxQueue: s.maxQueue ?? DEFAULTS.maxQueue,
    queueTimeoutMs: s.queueTimeoutMs ?? DEFAULTS.queueTimeoutMs,
    workerStartTimeoutMs: s.workerStartTimeoutMs ?? DEFAULTS.workerStartTimeoutMs,
    stackDumpWaitMs: s.stackDumpWaitMs ?? DEFAULTS.stackDumpWaitMs,
    startBatch: s.startBatch ?? DEFAULTS.startBatch,
    stopGraceMs: s.stopGraceMs ?? DEFAULTS.stopGraceMs,
    killGraceMs: s.killGraceMs ?? DEFAULTS.killGraceMs,
    restartBackoffMs: s.restartBackoffMs ?? DEFAULTS.restartBackoffMs,
    restartBackoffMaxMs: s.restartBackoffMaxMs ?? DEFAULTS.restartBackoffMaxMs,
    restartResetMs: s.restartResetMs ?? DEFAULTS.restartResetMs,
    maxStartupFailures: s.maxStartupFailures ?? DEFAULTS.maxStartupFailures,
    sessionTtlMs: s.sessionTtlMs ?? DEFAULTS.sessionTtlMs,
    maxSessions: s.maxSessions ?? DEFAULTS.maxSessions,
    latencyWindow: s.latencyWindow ?? DEFAULTS.latencyWindow,
    maxPayloadBytes,
    pipeline: s.pipeline ?? DEFAULTS.pipeline,
    heartbeatMs: s.heartbeatMs ?? DEFAULTS.heartbeatMs,
    heartbeatMisses: s.heartbeatMisses ?? DEFAULTS.heartbeatMisses,
    cancelGraceMs: s.cancelGraceMs ?? DEFAULTS.cancelGraceMs,
    maxRequeues: s.maxRequeues ?? DEFAULTS.maxRequeues,
    recycle: {
      maxRequests: s.maxRequests ?? DEFAULTS.maxRequests,
      ttlMs: s.ttlMs ?? DEFAULTS.ttlMs,
      maxRssMb: s.maxRssMb ?? DEFAULTS.maxRssMb,
      jitter: s.recycleJitter ?? DEFAULTS.recycleJitter,
    },
  };
}

/** Every pool's options, with each pool's interpreter resolved (explicit, remembered, discovered). */
export async function resolvePools(opts: AgentOptions, cwd: string = process.cwd()): Promise<PoolOptions[]> {
  const plans = planPools(opts, cwd);
  let discovered: Promise<string> | undefined;
  const out: PoolOptions[] = [];
  for (const plan of plans) {
    const python = plan.settings.python ? await resolvePython(plan.settings.python, cwd) : await (discovered ??= resolvePython(undefined, cwd));
    out.push(poolOptions(plan, python));
  }
  return out;
}

/** The interpreter to run: explicit, else remembered by setup, else discovered. */
export async function resolvePython(explicit: string | undefined, cwd: string): Promise<string> {
  const { findPython } = await import('../python/find.js');
  const { rememberedPython } = await import('../python/remembered.js');
  const remembered = explicit ? undefined : (await rememberedPython())?.executable;
  return (await findPython({ python: explicit, remembered, cwd })).executable;
}
