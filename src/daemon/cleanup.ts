// Orphans: processes of dead agent runs that the registry proves are ours (see
// src/agent/ownership.ts for the rule). `doctor cleanup` and `up` kill them, TERM then KILL,
// re-checking each process's start time before every signal, then remove the dead runs' empty
// worker cgroups; nothing is ever matched by name.
import { DEFAULTS } from '../defaults.js';
import { agentAlive, scanRuns, type Found, type RunRecord } from '../agent/ownership.js';
import { killRuns } from '../agent/reap.js';
import { readRegistry, updateRegistry } from '../agent/registry.js';
import { commandLine } from '../proc.js';
import { homePaths } from './home.js';

export interface Orphan {
  runId: string;
  worker: string;
  pid: number;
  pgid: number;
  startTime: number;
  cmdline: string[];
  why: string;
}

export interface CleanupResult {
  dryRun: boolean;
  /** What the registry proves ours (in a dry run: what would be signalled). */
  found: Orphan[];
  killed: Orphan[];
  /** Still alive after SIGKILL (e.g. not permitted, or stuck in the kernel). */
  survived: Orphan[];
  /** Dead runs forgotten because nothing of them is left. */
  removedRuns: string[];
  /** Worker cgroups of dead runs that could not be removed (something is still inside). */
  cgroupsLeft: string[];
}

/** Processes of dead runs recorded in the home's registry, each with the reason it is ours. */
export function findOrphans(home: string): Orphan[] {
  return scanRuns(readRegistry(homePaths(home).registryFile).runs).map(toOrphan);
}

export async function cleanupOrphans(home: string, opts: { dryRun?: boolean; graceMs?: number } = {}): Promise<CleanupResult> {
  const file = homePaths(home).registryFile;
  const runs = readRegistry(file).runs;
  if (opts.dryRun) return { dryRun: true, found: scanRuns(runs).map(toOrphan), killed: [], survived: [], removedRuns: [], cgroupsLeft: [] };
  // Command lines are read before anything is signalled (a dead process has none).
  const orphans = new Map<number, Orphan>();
  const { found, killed, survived, cgroupsLeft } = await killRuns(runs, agentAlive, opts.graceMs ?? DEFAULTS.cleanupGraceMs, (t) => {
    for (const f of t) if (!orphans.has(f.pid)) orphans.set(f.pid, toOrphan(f));
  });
  const removedRuns: string[] = [];
  const keep = new Set(survived.map((s) => s.runId));
  for (const [id, run] of Object.entries(runs)) if (Object.values(run.workers).some((w) => w.cgroup && cgroupsLeft.includes(w.cgroup))) keep.add(id);
  if (Object.keys(runs).length > 0) {
    updateRegistry(file, (doc) => {
      for (const [id, run] of Object.entries(doc.runs)) {
        if (keep.has(id) || agentAlive(run)) continue;
        delete doc.runs[id];
        removedRuns.push(id);
      }
    });
  }
  const orphan = (f: Found): Orphan => orphans.get(f.pid) ?? toOrphan(f);
  return { dryRun: false, found: found.map(orphan), killed: killed.map(orphan), survived: survived.map(orphan), removedRuns, cgroupsLeft };
}

/**
 * Kills what a stopping agent's own run still has in its workers' process groups (a tool's
 * children that outlived a worker that exited on SHUTDOWN). Returns what was killed.
 */
export async function reapOwnRun(runId: string, run: RunRecord, graceMs: number): Promise<Orphan[]> {
  const orphans = new Map<number, Orphan>();
  const { killed } = await killRuns({ [runId]: run }, () => false, graceMs, (t) => {
    for (const f of t) if (!orphans.has(f.pid)) orphans.set(f.pid, toOrphan(f));
  });
  return killed.map((k) => orphans.get(k.pid) ?? toOrphan(k));
}

function toOrphan(f: Found): Orphan {
  return { runId: f.runId, worker: f.worker.worker, pid: f.pid, pgid: f.pgid, startTime: f.startTime, cmdline: commandLine(f.pid) ?? f.worker.cmdline, why: f.why };
}
