// The process registry: every worker an agent starts (run id, pid, pgid, start time, command
// line), persisted in <home>/registry.json so that `doctor cleanup` and the next `up` can find
// what a dead agent left behind and prove each process is ours before signalling it.
//
// Lifetime of an entry: added on `worker.spawned`. On `worker.exited` (expected or not) it is
// marked exited and dropped at the next write once its process group is proven empty: a tool's
// children may outlive their worker, and without the entry nothing could prove them ours. A
// graceful agent stop reaps its own groups and removes the whole run (src/daemon/run.ts).
// Writes are coalesced (one write per burst of events), atomic (temp file + rename, mode 0600)
// and serialized across processes by a lock file (src/lockfile.ts), since `doctor cleanup` edits
// the same file.
import { readFileSync, renameSync, rmSync } from 'node:fs';
import { SnakepitError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import { withLockSync } from '../lockfile.js';
import { processStartTime } from '../proc.js';
import type { AgentEvent, EventSink } from './events.js';
import { scanRuns, type RunRecord } from './ownership.js';

export const REGISTRY_VERSION = 1;

export interface RegistryDoc {
  version: typeof REGISTRY_VERSION;
  runs: Record<string, RunRecord>;
}

/** Events within this window are written together. */
const COALESCE_MS = 20;
/** Exited workers' groups are re-checked (a scan of the process table) at most this often. */
const PRUNE_INTERVAL_MS = 1_000;
/** A failed write is retried after this long. */
const RETRY_MS = 1_000;
/** Longest wait for another process's lock (it holds it for one read-modify-write). */
const LOCK_WAIT_MS = 2_000;

/** Reads the registry; a missing file is an empty registry, a malformed one an error. */
export function readRegistry(file: string): RegistryDoc {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: REGISTRY_VERSION, runs: {} };
    throw err;
  }
  let doc: Partial<RegistryDoc> | undefined;
  try {
    doc = JSON.parse(text) as Partial<RegistryDoc>;
  } catch {
    /* reported below */
  }
  if (!doc || doc.version !== REGISTRY_VERSION || typeof doc.runs !== 'object' || doc.runs === null) {
    throw new SnakepitError('REGISTRY_INVALID', `process registry ${file} is not a version ${REGISTRY_VERSION} registry; move it aside (processes it recorded can then no longer be proven ours)`);
  }
  return doc as RegistryDoc;
}

/** Read-modify-write under the lock; an empty registry removes the file. */
export function updateRegistry(file: string, mutate: (doc: RegistryDoc) => void): RegistryDoc {
  return withLock(file, () => {
    const doc = readRegistry(file);
    mutate(doc);
    if (Object.keys(doc.runs).length === 0) rmSync(file, { force: true });
    else writeFileAtomic(file, `${JSON.stringify(doc, null, 2)}\n`);
    return doc;
  });
}

/** Something that emits the agent event catalog (the Agent). */
export interface EventSource {
  readonly runId: string;
  onEvent(listener: EventSink): () => void;
}

/** The registry as one agent keeps it: only its own run, merged into the file on each write. */
export class ProcessRegistry {
  private readonly run: RunRecord;
  private dirty = true;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private unsubscribe: (() => void) | undefined;
  private removed = false;
  private lastPrune = 0;

  constructor(
    readonly file: string,
    readonly runId: string,
    /** Reports a failed write (the agent keeps serving; the write is retried). */
    private readonly onError: (err: Error) => void = () => {},
    agent: { pid: number; startTime: number } = { pid: process.pid, startTime: processStartTime(process.pid) ?? 0 },
  ) {
    this.run = { agentPid: agent.pid, agentStartTime: agent.startTime, startedAt: new Date().toISOString(), workers: {} };
  }

  /** Subscribes to the agent's events and records the run at once (before any worker exists). */
  attach(source: EventSource): void {
    if (source.runId !== this.runId) throw new SnakepitError('INTERNAL', `registry of run ${this.runId} attached to run ${source.runId}`);
    this.unsubscribe = source.onEvent((e) => this.record(e));
    this.flush();
  }

  record(e: AgentEvent): void {
    if (this.removed) return;
    if (e.type === 'worker.spawned') {
      this.run.workers[e.pid] = {
        worker: e.worker,
        pool: e.pool,
        pid: e.pid,
        pgid: e.pgid,
        startTime: e.startTime,
        cmdline: e.cmdline,
        spawnedAt: new Date().toISOString(),
        ...(e.containment ? { containment: e.containment } : {}),
        ...(e.cgroup ? { cgroup: e.cgroup } : {}),
      };
    } else if (e.type === 'worker.exited') {
      const w = this.run.workers[e.pid];
      if (!w || w.exitedAt) return;
      w.exitedAt = new Date().toISOString();
    } else {
      return;
    }
    this.dirty = true;
    this.schedule(COALESCE_MS);
  }

  /** A write in `ms` at the latest (an earlier one already planned stays). */
  private schedule(ms: number): void {
    if (this.timer && this.timerAt <= Date.now() + ms) return;
    clearTimeout(this.timer);
    this.timerAt = Date.now() + ms;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.write(false);
    }, ms);
  }

  /** Writes pending changes now (before announcing readiness, and on the way out). */
  flush(): void {
    this.write(true);
  }

  private write(force: boolean): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.removed) return;
    if (this.prune(force)) this.dirty = true;
    if (!this.dirty) return;
    try {
      this.update((doc) => (doc.runs[this.runId] = this.run));
      this.dirty = false;
    } catch (err) {
      this.onError(err as Error);
      this.schedule(RETRY_MS);
    }
  }

  /** A copy of this run's record. */
  snapshot(): RunRecord {
    return structuredClone(this.run);
  }

  /** Graceful stop: every worker is gone (and its group reaped), so the run is forgotten. */
  remove(): void {
    this.unsubscribe?.();
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.removed) return;
    this.removed = true;
    try {
      this.update((doc) => delete doc.runs[this.runId]);
    } catch (err) {
      this.onError(err as Error);
    }
  }

  /** Drops exited workers whose process group is proven empty; true when any was dropped. */
  private prune(force: boolean): boolean {
    const exited = Object.values(this.run.workers).filter((w) => w.exitedAt);
    if (exited.length === 0) return false;
    const wait = this.lastPrune + PRUNE_INTERVAL_MS - Date.now();
    if (wait > 0 && !force) {
      // A burst of exits (a recycle storm) costs one scan per interval, not one per write.
      this.schedule(wait);
      return false;
    }
    this.lastPrune = Date.now();
    const probe: RunRecord = { ...this.run, workers: Object.fromEntries(exited.map((w) => [w.pid, w])) };
    // This agent is alive, but it asks about its own run: judge it as if it were dead.
    const left = new Set(scanRuns({ [this.runId]: probe }, () => false).map((f) => f.worker.pid));
    let dropped = false;
    for (const w of exited) {
      if (left.has(w.pid)) continue;
      delete this.run.workers[w.pid];
      dropped = true;
    }
    return dropped;
  }

  /** One locked update; a malformed file is moved aside once so this agent can still record. */
  private update(mutate: (doc: RegistryDoc) => void): void {
    try {
      updateRegistry(this.file, mutate);
    } catch (err) {
      if (!(err instanceof SnakepitError) || err.code !== 'REGISTRY_INVALID') throw err;
      const aside = `${this.file}.invalid-${Date.now()}`;
      renameSync(this.file, aside);
      this.onError(new SnakepitError('REGISTRY_INVALID', `${err.message}; moved it to ${aside}`));
      updateRegistry(this.file, mutate);
    }
  }
}

/** Runs `fn` holding `<file>.lock` (src/lockfile.ts); a dead holder's lock is broken. */
function withLock<T>(file: string, fn: () => T): T {
  const lock = `${file}.lock`;
  return withLockSync(lock, 'registry', LOCK_WAIT_MS, () => new SnakepitError('REGISTRY_LOCKED', `process registry ${file} stayed locked for ${LOCK_WAIT_MS} ms (${lock}); try again`), fn);
}
