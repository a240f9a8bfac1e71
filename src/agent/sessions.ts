// Session → worker affinity. A session sticks to the worker that first served it while that
// worker lives. When that worker dies or is recycled the session is marked lost: strict modes
// report SESSION_WORKER_LOST once (its Python-side state is gone), hint mode re-homes silently.
// Entries expire after a TTL without calls and the table is capped (least recently used go).
import type { WorkerHandle } from './worker-handle.js';

export type Affinity = 'hint' | 'strict-queue' | 'strict-fail-fast';
export const AFFINITY_MODES: readonly Affinity[] = ['hint', 'strict-queue', 'strict-fail-fast'];

interface Entry<W> {
  worker: W | null;
  lastUsed: number;
}

export type SessionLookup<W = WorkerHandle> = { kind: 'none' } | { kind: 'bound'; worker: W } | { kind: 'lost' };

/**
 * Sessions → what serves them: a worker here, an agent's id in a router (src/cluster/router.ts).
 * `gone` says when a bound one no longer exists (a worker that exited).
 */
export class SessionTable<W = WorkerHandle> {
  private readonly entries = new Map<string, Entry<W>>();

  constructor(
    private ttlMs: number,
    private maxSessions: number,
    private readonly gone: (w: W) => boolean = (w) => (w as unknown as WorkerHandle).state === 'exited',
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** A reloaded config's limits (sessions over the new bound are dropped as they are bound). */
  setLimits(ttlMs: number, maxSessions: number): void {
    this.ttlMs = ttlMs;
    this.maxSessions = maxSessions;
  }

  lookup(session: string, now: number): SessionLookup<W> {
    const e = this.entries.get(session);
    if (!e) return { kind: 'none' };
    if (now - e.lastUsed > this.ttlMs) {
      this.entries.delete(session);
      return { kind: 'none' };
    }
    if (!e.worker || this.gone(e.worker)) return { kind: 'lost' };
    return { kind: 'bound', worker: e.worker };
  }

  /** The live worker of a session, if any. */
  workerOf(session: string, now: number): W | undefined {
    const l = this.lookup(session, now);
    return l.kind === 'bound' ? l.worker : undefined;
  }

  bind(session: string, worker: W, now: number): void {
    // Map keeps insertion order: re-insert so the least recently used entry is first.
    this.entries.delete(session);
    this.entries.set(session, { worker, lastUsed: now });
    if (this.entries.size > this.maxSessions) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  forget(session: string): void {
    this.entries.delete(session);
  }

  /** Marks every session of a worker lost (it died or was replaced). */
  loseWorker(worker: W): void {
    for (const e of this.entries.values()) if (e.worker === worker) e.worker = null;
  }

  sweep(now: number): void {
    for (const [s, e] of this.entries) if (now - e.lastUsed > this.ttlMs) this.entries.delete(s);
  }
}
