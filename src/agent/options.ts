// The public options of an agent, checked once here and turned into fully defaulted pool
// options; the engine behind trusts them. Bad input fails with CONFIG_INVALID naming the key.
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { DEFAULTS } from '../defaults.js';
import { SnakepitError } from '../errors.js';
import { PYTHON_RUNTIME_DIR } from '../paths.js';
import type { AgentLogger } from './log.js';
import type { PoolOptions } from './pool.js';

export interface AgentOptions {
  /** Tools module: a `.py` file or an importable module name. Default: the built-in demo tools. */
  tools?: string;
  /** Number of workers (default: one per CPU). */
  workers?: number;
  /** Python interpreter (default: the one `snakepit setup` chose, else discovered). */
  python?: string;
  /** Concurrent calls per worker, for tool modules that are thread safe (default 1). */
  threads?: number;
  /** Extra environment for the workers. */
  env?: Record<string, string>;
  /** Working directory of the workers (default: process.cwd()). */
  cwd?: string;
  /** Name of the pool (default "default"). */
  pool?: string;
  maxQueue?: number;
  queueTimeoutMs?: number;
  workerStartTimeoutMs?: number;
  stopGraceMs?: number;
  killGraceMs?: number;
  maxPayloadBytes?: number;
  sessionTtlMs?: number;
  maxSessions?: number;
  /** Where agent and worker log lines go (default: nowhere). */
  logger?: AgentLogger;
}

const INTEGER_KEYS = ['workers', 'threads', 'maxQueue', 'queueTimeoutMs', 'workerStartTimeoutMs', 'stopGraceMs', 'killGraceMs', 'maxPayloadBytes', 'sessionTtlMs', 'maxSessions'] as const;
const MINIMUM: Partial<Record<(typeof INTEGER_KEYS)[number], number>> = { workers: 1, threads: 1, maxQueue: 0, maxSessions: 1, maxPayloadBytes: 1024, sessionTtlMs: 1, queueTimeoutMs: 1, workerStartTimeoutMs: 1 };

export function invalid(key: string, message: string): SnakepitError {
  return new SnakepitError('CONFIG_INVALID', `invalid option '${key}': ${message}`);
}

/** Resolves a tools spec: a path (has a slash or ends in .py) must exist; a module name is kept. */
export function resolveToolsSpec(tools: string | undefined, cwd: string): string | undefined {
  if (tools === undefined) return undefined;
  if (typeof tools !== 'string' || tools.trim() === '') throw invalid('tools', 'expected a .py file or a module name');
  const looksLikePath = tools.endsWith('.py') || tools.includes('/');
  if (!looksLikePath) {
    if (!/^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$/.test(tools)) throw invalid('tools', `'${tools}' is neither a .py file nor a Python module name`);
    return tools;
  }
  const path = isAbsolute(tools) ? tools : resolve(cwd, tools);
  if (!existsSync(path)) throw invalid('tools', `file not found: ${path}`);
  if (!statSync(path).isFile()) throw invalid('tools', `not a file: ${path}`);
  return path;
}

export function poolOptions(opts: AgentOptions, python: string): PoolOptions {
  for (const key of INTEGER_KEYS) {
    const v = opts[key];
    if (v === undefined) continue;
    const min = MINIMUM[key] ?? 0;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw invalid(key, `expected an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
  if (opts.env !== undefined && (typeof opts.env !== 'object' || Object.values(opts.env).some((v) => typeof v !== 'string'))) {
    throw invalid('env', 'expected an object of string values');
  }
  const cwd = resolve(opts.cwd ?? process.cwd());
  const maxPayloadBytes = opts.maxPayloadBytes ?? DEFAULTS.maxPayloadBytes;
  return {
    name: opts.pool ?? 'default',
    size: opts.workers ?? DEFAULTS.workers,
    spec: {
      python,
      runtimeDir: PYTHON_RUNTIME_DIR,
      tools: resolveToolsSpec(opts.tools, cwd),
      threads: opts.threads ?? 1,
      env: opts.env ?? {},
      cwd,
      runId: '',
      // Room for the frame header around a payload of the maximum size.
      maxFrameBytes: maxPayloadBytes + 64 * 1024,
      stderrTailLines: DEFAULTS.stderrTailLines,
    },
    maxQueue: opts.maxQueue ?? DEFAULTS.maxQueue,
    queueTimeoutMs: opts.queueTimeoutMs ?? DEFAULTS.queueTimeoutMs,
    workerStartTimeoutMs: opts.workerStartTimeoutMs ?? DEFAULTS.workerStartTimeoutMs,
    stopGraceMs: opts.stopGraceMs ?? DEFAULTS.stopGraceMs,
    killGraceMs: opts.killGraceMs ?? DEFAULTS.killGraceMs,
    restartBackoffMs: DEFAULTS.restartBackoffMs,
    restartBackoffMaxMs: DEFAULTS.restartBackoffMaxMs,
    restartResetMs: DEFAULTS.restartResetMs,
    maxStartupFailures: DEFAULTS.maxStartupFailures,
    sessionTtlMs: opts.sessionTtlMs ?? DEFAULTS.sessionTtlMs,
    maxSessions: opts.maxSessions ?? DEFAULTS.maxSessions,
    latencyWindow: DEFAULTS.latencyWindow,
    maxPayloadBytes,
  };
}

/** The interpreter to run: explicit, else remembered by setup, else discovered. */
export async function resolvePython(explicit: string | undefined, cwd: string): Promise<string> {
  const { findPython } = await import('../python/find.js');
  const { rememberedPython } = await import('../python/remembered.js');
  const remembered = explicit ? undefined : (await rememberedPython())?.executable;
  return (await findPython({ python: explicit, remembered, cwd })).executable;
}
