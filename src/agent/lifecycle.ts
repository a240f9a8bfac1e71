// When a healthy worker should be replaced: after a number of calls, after a time to live, or
// above a memory limit measured on the Python process itself. Pure: the pool passes the facts.
// Limits carry random jitter so workers started together do not all recycle together.

export interface RecyclePolicy {
  /** Calls before a recycle (0 = never). */
  maxRequests: number;
  /** Lifetime before a recycle, ms (0 = never). */
  ttlMs: number;
  /** Resident memory of the Python process above which it is recycled, MiB (0 = never). */
  maxRssMb: number;
  /** Fraction of maxRequests / ttlMs added at random per worker (0.1 = up to +10 %). */
  jitter: number;
}

export interface RecycleLimits {
  requests: number;
  ttlMs: number;
}

/** Per-worker limits, drawn once when the worker starts. */
export function drawLimits(p: RecyclePolicy, random: () => number = Math.random): RecycleLimits {
  const jit = (base: number): number => (base > 0 ? base + Math.floor(random() * base * p.jitter) : 0);
  return { requests: jit(p.maxRequests), ttlMs: jit(p.ttlMs) };
}

export interface WorkerFacts {
  requests: number;
  /** Time since the worker became ready, ms. */
  upMs: number;
  rssBytes: number;
}

/** Why a worker should be recycled now, or undefined. */
export function recycleReason(p: RecyclePolicy, limits: RecycleLimits, w: WorkerFacts): string | undefined {
  if (limits.requests > 0 && w.requests >= limits.requests) return `served ${w.requests} calls (limit ${limits.requests})`;
  if (limits.ttlMs > 0 && w.upMs >= limits.ttlMs) return `up for ${w.upMs} ms (ttl ${limits.ttlMs} ms)`;
  if (p.maxRssMb > 0 && w.rssBytes > p.maxRssMb * 1024 * 1024) return `RSS ${(w.rssBytes / 1048576).toFixed(1)} MiB above ${p.maxRssMb} MiB`;
  return undefined;
}
