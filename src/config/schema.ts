// The schema of every pool setting: its type, bounds and meaning. One table validates options
// passed to startAgent(), the project config file (naming the offending key path) and SNAKEPIT_*
// environment overrides, so all three accept exactly the same settings.
import { DEFAULTS } from '../defaults.js';
import { nearestNames, SnakepitError } from '../errors.js';

export type FieldSpec =
  | { type: 'integer'; min: number; max?: number; doc: string }
  | { type: 'number'; min: number; max?: number; doc: string }
  | { type: 'string'; doc: string }
  | { type: 'enum'; values: readonly string[]; doc: string }
  | { type: 'env'; doc: string };

export const POOL_FIELDS = {
  tools: { type: 'string', doc: 'tools module: a .py file (relative to the config file) or a module name' },
  workers: { type: 'integer', min: 1, max: DEFAULTS.maxWorkers, doc: `number of workers (alias: size), at most ${DEFAULTS.maxWorkers} (maxWorkers)` },
  python: { type: 'string', doc: 'Python interpreter for this pool' },
  env: { type: 'env', doc: 'extra environment variables for the workers' },
  cwd: { type: 'string', doc: 'working directory of the workers' },
  workerTransport: { type: 'enum', values: ['pipe', 'grpc'], doc: 'how the agent talks to its workers: framed pipes, or gRPC (needs grpcio)' },
  threads: { type: 'integer', min: 1, doc: 'concurrent calls per worker; the module must declare itself thread safe' },
  affinity: { type: 'enum', values: ['hint', 'strict-queue', 'strict-fail-fast'], doc: 'session affinity mode' },
  pipeline: { type: 'integer', min: 0, doc: 'calls sent ahead to a busy worker when no worker is free (0 = one call at a time)' },
  maxRequeues: { type: 'integer', min: 0, doc: 'times a call that a dying worker never started goes back to the queue' },
  maxQueue: { type: 'integer', min: 0, doc: 'calls waiting for a worker before QUEUE_FULL' },
  queueTimeoutMs: { type: 'integer', min: 1, doc: 'longest wait in the queue before QUEUE_TIMEOUT, ms' },
  workerStartTimeoutMs: { type: 'integer', min: 1, doc: 'spawn → ready limit per worker, ms' },
  stackDumpWaitMs: { type: 'integer', min: 0, doc: 'a worker not ready in time gets this long to print its Python stacks before it is killed, ms' },
  startBatch: { type: 'integer', min: 1, doc: 'workers spawned at once while the pool starts' },
  stopGraceMs: { type: 'integer', min: 0, doc: 'on stop, time for in-flight calls to finish, ms' },
  killGraceMs: { type: 'integer', min: 0, doc: 'after SHUTDOWN / SIGTERM, time before the harder step, ms' },
  maxPayloadBytes: { type: 'integer', min: 1024, doc: 'largest argument or result, bytes' },
  sessionTtlMs: { type: 'integer', min: 1, doc: 'a session without calls this long forgets its worker, ms' },
  maxSessions: { type: 'integer', min: 1, doc: 'most sessions remembered per pool' },
  heartbeatMs: { type: 'integer', min: 10, doc: 'heartbeat interval, ms' },
  heartbeatMisses: { type: 'integer', min: 1, doc: 'heartbeats missed in a row before a worker is replaced' },
  cancelGraceMs: { type: 'integer', min: 0, doc: 'a cancelled call still running this long gets its worker recycled, ms' },
  maxRequests: { type: 'integer', min: 0, doc: 'recycle a worker after this many calls (0 = never)' },
  ttlMs: { type: 'integer', min: 0, doc: 'recycle a worker after this long, ms (0 = never)' },
  maxRssMb: { type: 'number', min: 0, doc: 'recycle a worker above this resident memory, MiB (0 = never)' },
  recycleJitter: { type: 'number', min: 0, max: 1, doc: 'random extra fraction of maxRequests / ttlMs per worker' },
  restartBackoffMs: { type: 'integer', min: 0, doc: 'restart delay after the second crash in a row, doubling per further crash, ms' },
  restartBackoffMaxMs: { type: 'integer', min: 0, doc: 'cap of the restart delay, ms' },
  restartResetMs: { type: 'integer', min: 1, doc: 'a worker up this long has its crash count reset, ms' },
  maxStartupFailures: { type: 'integer', min: 1, doc: 'deaths during startup in a row before the pool is degraded' },
  latencyWindow: { type: 'integer', min: 1, doc: 'calls in the latency percentiles of stats' },
  stderrTailLines: { type: 'integer', min: 0, doc: 'lines of a failed worker stderr quoted when it cannot start' },
  logLineMaxBytes: { type: 'integer', min: 4, doc: 'longest line of worker output logged as one record, bytes' },
} as const satisfies Record<string, FieldSpec>;

export type PoolField = keyof typeof POOL_FIELDS;

type ValueOf<S> = S extends { type: 'integer' | 'number' } ? number : S extends { type: 'env' } ? Record<string, string> : string;

export type PoolSettings = { -readonly [K in PoolField]?: ValueOf<(typeof POOL_FIELDS)[K]> } & { affinity?: 'hint' | 'strict-queue' | 'strict-fail-fast'; workerTransport?: 'pipe' | 'grpc' };

export function configError(path: string, message: string): SnakepitError {
  return new SnakepitError('CONFIG_INVALID', `invalid setting '${path}': ${message}`);
}

/** Checks one value against its field spec; throws CONFIG_INVALID naming `path`. */
export function checkField(spec: FieldSpec, value: unknown, path: string): unknown {
  switch (spec.type) {
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < spec.min || (spec.max !== undefined && value > spec.max)) {
        throw configError(path, `expected an integer ${spec.max !== undefined ? `between ${spec.min} and ${spec.max}` : `>= ${spec.min}`}, got ${JSON.stringify(value)}`);
      }
      return value;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value) || value < spec.min || (spec.max !== undefined && value > spec.max)) {
        throw configError(path, `expected a number ${spec.max !== undefined ? `between ${spec.min} and ${spec.max}` : `>= ${spec.min}`}, got ${JSON.stringify(value)}`);
      }
      return value;
    case 'string':
      if (typeof value !== 'string' || value.trim() === '') throw configError(path, `expected a non-empty string, got ${JSON.stringify(value)}`);
      return value;
    case 'enum':
      if (typeof value !== 'string' || !spec.values.includes(value)) throw configError(path, `expected one of ${spec.values.join(', ')}, got ${JSON.stringify(value)}`);
      return value;
    case 'env':
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw configError(path, 'expected an object of string values');
      for (const [k, v] of Object.entries(value)) if (typeof v !== 'string') throw configError(`${path}.${k}`, `expected a string, got ${JSON.stringify(v)}`);
      return value;
  }
}

/**
 * Validates an object of pool settings. `size` is accepted as an alias of `workers`. Unknown keys
 * are errors with a "did you mean" hint (a typo must never be silently ignored).
 */
export function checkPoolSettings(raw: unknown, path: string, extraKeys: readonly string[] = []): PoolSettings {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw configError(path || '(root)', 'expected an object');
  const out: Record<string, unknown> = {};
  const known = Object.keys(POOL_FIELDS);
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined || extraKeys.includes(key)) continue;
    const name = key === 'size' ? 'workers' : key;
    const full = path ? `${path}.${key}` : key;
    const spec = (POOL_FIELDS as Record<string, FieldSpec>)[name];
    if (!spec) {
      const near = nearestNames(key, [...known, 'size', ...extraKeys]);
      throw configError(full, `unknown setting${near.length ? `; did you mean '${near[0]}'?` : ''}`);
    }
    if (name in out) throw configError(full, "both 'size' and 'workers' are given; use one");
    out[name] = checkField(spec, value, full);
  }
  return out as PoolSettings;
}

/**
 * Environment variables as process.env holds them. Our own type, not NodeJS.ProcessEnv: this
 * module's declarations are part of the public ones (PoolSettings), which must not need @types/node.
 */
export type EnvVars = Readonly<Record<string, string | undefined>>;

/** Settings from SNAKEPIT_<NAME> environment variables (e.g. SNAKEPIT_MAX_QUEUE=500). */
export function envSettings(env: EnvVars = process.env): PoolSettings {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(POOL_FIELDS) as Array<[string, FieldSpec]>) {
    if (spec.type === 'env' || key === 'python' || key === 'tools' || key === 'cwd') continue;
    const name = `SNAKEPIT_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let value: unknown = raw;
    if (spec.type === 'integer' || spec.type === 'number') {
      // Number('abc') is NaN, which the message would show as null: name the text itself.
      value = /^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(raw) ? Number(raw) : NaN;
      if (Number.isNaN(value)) throw configError(name, `expected ${spec.type === 'integer' ? 'an integer' : 'a number'} >= ${spec.min}, got '${raw}' (e.g. ${name}=${Math.max(spec.min, 1) * 10})`);
    }
    out[key] = checkField(spec, value, name);
  }
  return out as PoolSettings;
}
