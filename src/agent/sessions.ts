// Session → worker affinity. A session sticks to the worker that first served it while that
// worker lives; entries expire after a TTL without calls and the table is capped.
import type { WorkerHandle } from './worker-handle.js';

interface Entry {
  worker: WorkerHandle;
  lastUsed: number;
}

export class SessionTable {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxSessions: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The live worker of a session, if any. */
  workerOf(session: string, now: number): WorkerHandle | undefined {
    const e = this.entries.get(session);
    if (!e) return undefined;
    if (e.worker.state === 'exited' || now - e.lastUsed > this.ttlMs) {
      this.entries.delete(session);
      return undefined;
    }
    return e.worker;
  }

  bind(session: string, worker: WorkerHandle, now: number): void {
    const e = this.entries.get(session);
    if (e && e.worker === worker) {
      e.lastUsed = now;
      // Map keeps insertion order: re-insert so the oldest entry is first for eviction.
      this.entries.delete(session);
      this.entries.set(session, e);
      return;
    }
    this.entries.delete(session);
    this.entries.set(session, { worker, lastUsed: now });
    if (this.entries.size > this.maxSessions) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  /** Forgets every session of a worker (it died or was replaced). */
  dropWorker(worker: WorkerHandle): void {
    for (const [s, e] of this.entries) if (e.worker === worker) this.entries.delete(s);
  }

  sweep(now: number): void {
    for (const [s, e] of this.entries) if (now - e.lastUsed > this.ttlMs) this.entries.delete(s);
  }
}
