// When is a live process "ours"? The one rule that `doctor cleanup`, `up` and a stopping agent
// use before they signal anything. A pid alone proves nothing (pids are reused) and neither does
// a command line or an environment (anyone can copy both): a process counts only when the
// registry's facts and /proc agree. `isOurs` is pure; `scanRuns` feeds it facts from /proc.
import { environValue, isAlive, listPids, processFacts } from '../proc.js';

/** One worker as the registry recorded it at spawn. */
export interface WorkerRecord {
  worker: string;
  pool: string;
  pid: number;
  /** The worker leads its own process group, so pgid = pid; kept explicit for the rule. */
  pgid: number;
  /** /proc/PID/stat field 22 at spawn (clock ticks since boot). */
  startTime: number;
  cmdline: string[];
  spawnedAt: string;
  /** Set when the worker exited while its process group may still hold a tool's children. */
  exitedAt?: string;
}

/** One agent run: its own identity and its workers, keyed by pid. */
export interface RunRecord {
  agentPid: number;
  agentStartTime: number;
  startedAt: string;
  workers: Record<string, WorkerRecord>;
}

/** What /proc says about a candidate process. */
export interface ProcFacts {
  pid: number;
  pgid: number;
  startTime: number;
  /** SNAKEPIT_RUN_ID from /proc/PID/environ; undefined when unset or unreadable. */
  runIdEnv: string | undefined;
}

export type OwnershipRule = 'worker' | 'group' | 'leader-group';

export interface Match {
  worker: WorkerRecord;
  rule: OwnershipRule;
  why: string;
}

/**
 * Whether `c` belongs to `run` (ignoring whether the run's agent lives; see `isOurs`):
 *  (a) `worker`: pid and start time equal a recorded worker's;
 *  (b) `group`: its process group is a recorded worker's, it started no earlier than that worker,
 *      and it inherited SNAKEPIT_RUN_ID=<runId> (every worker gets it; children inherit it).
 * A record without a start time proves nothing.
 */
export function matchRun(c: ProcFacts, runId: string, run: RunRecord): Match | undefined {
  const workers = Object.values(run.workers).filter((w) => w.startTime > 0);
  for (const w of workers) {
    if (c.pid === w.pid && c.startTime === w.startTime) return { worker: w, rule: 'worker', why: `worker ${w.worker} of run ${runId} (pid and start time match the registry)` };
  }
  if (c.runIdEnv !== runId) return undefined;
  for (const w of workers) {
    if (c.pgid === w.pgid && c.startTime >= w.startTime) {
      return { worker: w, rule: 'group', why: `in the process group of worker ${w.worker} (pgid ${w.pgid}), started after it, SNAKEPIT_RUN_ID=${runId}` };
    }
  }
  return undefined;
}

/** A process is ours to kill only when its run's agent is dead and the registry proves it. */
export function isOurs(c: ProcFacts, runId: string, run: RunRecord, agentAlive: boolean): Match | undefined {
  return agentAlive ? undefined : matchRun(c, runId, run);
}

/**
 * (c) `leader-group`: a process in the group of a worker that is itself proven alive by rule (a).
 * While the leader lives, its pgid names exactly its group (a group is joined only from inside
 * the worker's own session), so this also covers a tool's child that scrubbed its environment.
 */
export function matchLeaderGroup(c: ProcFacts, leaders: ReadonlyMap<number, Match>): Match | undefined {
  const leader = leaders.get(c.pgid);
  if (!leader || c.pid === leader.worker.pid || c.startTime < leader.worker.startTime) return undefined;
  return { worker: leader.worker, rule: 'leader-group', why: `in the process group of live worker ${leader.worker.worker} (pgid ${c.pgid}), whose pid and start time match the registry` };
}

export interface Found extends Match {
  runId: string;
  pid: number;
  pgid: number;
  startTime: number;
}

/** Whether a run's agent still runs (same pid and start time). */
export function agentAlive(run: RunRecord): boolean {
  return isAlive(run.agentPid, run.agentStartTime);
}

/**
 * Scans /proc once for the processes of `runs` that are ours by the rules above. `alive` says
 * whether a run's agent lives (default: ask /proc); a stopping agent passes `() => false` for its
 * own run. Never returns this process or a zombie.
 */
export function scanRuns(runs: Record<string, RunRecord>, alive: (run: RunRecord) => boolean = agentAlive): Found[] {
  const liveness = new Map(Object.entries(runs).map(([id, run]) => [id, alive(run)]));
  const pids = new Set<number>();
  const pgids = new Set<number>();
  for (const [id, run] of Object.entries(runs)) {
    if (liveness.get(id)) continue;
    for (const w of Object.values(run.workers)) {
      pids.add(w.pid);
      pgids.add(w.pgid);
    }
  }
  if (pids.size === 0) return [];
  const facts: ProcFacts[] = [];
  for (const pid of listPids()) {
    if (pid === process.pid) continue;
    const f = processFacts(pid);
    if (!f || f.state === 'Z' || (!pids.has(pid) && !pgids.has(f.pgid))) continue;
    facts.push({ pid, pgid: f.pgid, startTime: f.startTime, runIdEnv: environValue(pid, 'SNAKEPIT_RUN_ID') });
  }
  const found: Found[] = [];
  const leaders = new Map<number, Found>();
  const unmatched: ProcFacts[] = [];
  for (const c of facts) {
    let hit: (Match & { runId: string }) | undefined;
    for (const [runId, run] of Object.entries(runs)) {
      const m = isOurs(c, runId, run, liveness.get(runId)!);
      if (m) {
        hit = { ...m, runId };
        break;
      }
    }
    if (!hit) {
      unmatched.push(c);
      continue;
    }
    const entry: Found = { ...hit, pid: c.pid, pgid: c.pgid, startTime: c.startTime };
    found.push(entry);
    if (hit.rule === 'worker' && c.pid === c.pgid) leaders.set(c.pgid, entry);
  }
  for (const c of unmatched) {
    const m = matchLeaderGroup(c, leaders);
    if (m) found.push({ ...m, runId: leaders.get(c.pgid)!.runId, pid: c.pid, pgid: c.pgid, startTime: c.startTime });
  }
  return found;
}
