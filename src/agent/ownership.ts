// When is a live process "ours"? The one rule that `doctor cleanup`, `up` and a stopping agent
// use before they signal anything. A pid alone proves nothing (pids are reused) and neither does
// a command line or an environment (anyone can copy both), nor the registry itself (a file can be
// forged): a process counts only when the registry's facts and the process table agree, and some
// processes are never ours whatever the registry says (`refusal`: pid or group ≤ 1, this process,
// its group or session, another user's). `isOurs` and `refusal` are pure; `scanRuns` feeds them
// facts from src/proc.ts (/proc, or ps elsewhere).
import { cgroupMembers, provenCgroup, type ContainmentKind } from './containment.js';
import { environValue, environValues, isAlive, processFacts, processTable } from '../proc.js';

/** One worker as the registry recorded it at spawn. */
export interface WorkerRecord {
  worker: string;
  pool: string;
  pid: number;
  /** The worker leads its own process group, so pgid = pid; kept explicit for the rule. */
  pgid: number;
  /** Start time at spawn, as src/proc.ts reads it (/proc: clock ticks since boot). */
  startTime: number;
  cmdline: string[];
  spawnedAt: string;
  /** Set when the worker exited while its process group may still hold a tool's children. */
  exitedAt?: string;
  /** How its descendants are contained (src/agent/containment.ts); absent in older registries. */
  containment?: ContainmentKind;
  /** Its own cgroup directory, where `containment` is a cgroup kind. */
  cgroup?: string;
}

/** One agent run: its own identity and its workers, keyed by pid. */
export interface RunRecord {
  agentPid: number;
  agentStartTime: number;
  startedAt: string;
  workers: Record<string, WorkerRecord>;
}

/** What the process table says about a candidate process. */
export interface ProcFacts {
  pid: number;
  pgid: number;
  /** Session id. */
  sid: number;
  /** The uid it runs as (all of real, effective, saved), -1 when they differ, undefined if unknown. */
  uid: number | undefined;
  startTime: number;
  /** SNAKEPIT_RUN_ID from its environment at exec; undefined when unset or unreadable. */
  runIdEnv: string | undefined;
  /** A recorded worker cgroup, proven ours (`provenCgroup`), that lists this process. */
  cgroup?: string | undefined;
}

/** The process that is about to signal: never a target itself, nor its group or session. */
export interface SelfFacts {
  pid: number;
  pgid: number;
  sid: number;
  uid: number;
}

export type OwnershipRule = 'worker' | 'group' | 'leader-group' | 'cgroup';

/**
 * Why `c` must never be signalled by `self`, whatever the registry says, or undefined. Signalling
 * pid or group 1 (or ≤ 1: `kill(-1)` is every process) would take the host down; our own pid,
 * group or session would kill the cleaner itself or the user's shell; another user's process is
 * never ours (root could signal it, so this is checked explicitly).
 */
export function refusal(c: Pick<ProcFacts, 'pid' | 'pgid' | 'sid' | 'uid'>, self: SelfFacts): string | undefined {
  if (!Number.isInteger(c.pid) || c.pid <= 1) return `pid ${c.pid} is ≤ 1`;
  if (!Number.isInteger(c.pgid) || c.pgid <= 1) return `its process group ${c.pgid} is ≤ 1`;
  if (!Number.isInteger(c.sid) || c.sid <= 0) return `its session ${c.sid} is not a user session`;
  if (c.pid === self.pid) return 'it is this process';
  if (c.pgid === self.pgid || c.pid === self.pgid) return `it is in our own process group ${self.pgid}`;
  if (c.sid === self.sid || c.pid === self.sid) return `it is in our own session ${self.sid}`;
  if (c.uid !== self.uid) return c.uid === undefined ? 'its owner is unknown' : `it belongs to uid ${c.uid}, not to uid ${self.uid}`;
  return undefined;
}

/** Whether the process group `pgid` may be signalled as a whole (`kill(-pgid)`) by `self`. */
export function maySignalGroup(pgid: number, self: SelfFacts): boolean {
  return Number.isInteger(pgid) && pgid > 1 && pgid !== self.pgid && pgid !== self.sid && pgid !== self.pid;
}

export interface Match {
  worker: WorkerRecord;
  rule: OwnershipRule;
  why: string;
}

/**
 * Whether `c` belongs to `run` (ignoring whether the run's agent lives and `refusal`; see `isOurs`):
 *  (a) `worker`: pid, start time *and* the inherited SNAKEPIT_RUN_ID=<runId> (every worker gets it
 *      at spawn) equal a recorded worker's: a record naming some other live process proves nothing;
 *  (b) `group`: its process group is a recorded worker's (which leads it: pgid = pid), it started
 *      no earlier than that worker, and it inherited SNAKEPIT_RUN_ID=<runId>;
 *  (d) `cgroup`: it sits in the recorded worker's own cgroup (proven ours by the caller) and started
 *      no earlier than the worker: only descendants are born there, whatever their environment.
 * A record without a start time proves nothing.
 */
export function matchRun(c: ProcFacts, runId: string, run: RunRecord): Match | undefined {
  const workers = Object.values(run.workers).filter((w) => Number.isInteger(w.startTime) && w.startTime > 0);
  if (c.runIdEnv === runId) {
    for (const w of workers) {
      if (c.pid === w.pid && c.startTime === w.startTime) return { worker: w, rule: 'worker', why: `worker ${w.worker} of run ${runId} (pid, start time and SNAKEPIT_RUN_ID match the registry)` };
    }
    for (const w of workers) {
      if (w.pgid === w.pid && c.pgid === w.pgid && c.startTime >= w.startTime) {
        return { worker: w, rule: 'group', why: `in the process group of worker ${w.worker} (pgid ${w.pgid}), started after it, SNAKEPIT_RUN_ID=${runId}` };
      }
    }
  }
  if (c.cgroup !== undefined) {
    for (const w of workers) {
      if (w.cgroup === c.cgroup && c.startTime >= w.startTime) {
        return { worker: w, rule: 'cgroup', why: `in the cgroup of worker ${w.worker} (${w.cgroup}), started after it` };
      }
    }
  }
  return undefined;
}

/**
 * A process is ours to kill only when its run's agent is dead, nothing forbids signalling it
 * (`refusal`), and the registry proves it.
 */
export function isOurs(c: ProcFacts, runId: string, run: RunRecord, agentAlive: boolean, self: SelfFacts): Match | undefined {
  if (agentAlive || refusal(c, self)) return undefined;
  return matchRun(c, runId, run);
}

/**
 * (c) `leader-group`: a process in the group of a worker that is itself proven alive by rule (a).
 * While the leader lives, its pgid names exactly its group (a group is joined only from inside
 * the worker's own session), so this also covers a tool's child that scrubbed its environment.
 */
export function matchLeaderGroup(c: ProcFacts, leaders: ReadonlyMap<number, Match>, self: SelfFacts): Match | undefined {
  const leader = leaders.get(c.pgid);
  if (!leader || refusal(c, self) || c.pid === leader.worker.pid || c.startTime < leader.worker.startTime) return undefined;
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

/** This process's own pid, group, session and uid. */
export function selfFacts(): SelfFacts {
  const f = processFacts(process.pid);
  return { pid: process.pid, pgid: f?.pgid ?? process.pid, sid: f?.sid ?? process.pid, uid: process.getuid?.() ?? -1 };
}

/** What the process table says about `pid` now (undefined when it is gone or a zombie). */
export function readFacts(pid: number, cgroup?: string): ProcFacts | undefined {
  const f = processFacts(pid);
  if (!f || f.state === 'Z') return undefined;
  return { pid, pgid: f.pgid, sid: f.sid, uid: f.uid, startTime: f.startTime, runIdEnv: environValue(pid, RUN_ID_ENV), cgroup };
}

const RUN_ID_ENV = 'SNAKEPIT_RUN_ID';

/**
 * Scans the process table once for the processes of `runs` that are ours by the rules above.
 * `alive` says whether a run's agent lives (default: same pid and start time); a stopping agent
 * passes `() => false` for its own run. Never returns this process, anything `refusal` forbids,
 * or a zombie.
 */
export function scanRuns(runs: Record<string, RunRecord>, alive: (run: RunRecord) => boolean = agentAlive, self: SelfFacts = selfFacts()): Found[] {
  const liveness = new Map(Object.entries(runs).map(([id, run]) => [id, alive(run)]));
  const pids = new Set<number>();
  const pgids = new Set<number>();
  /** Members of proven worker cgroups: pid → cgroup. */
  const inCgroup = new Map<number, string>();
  for (const [id, run] of Object.entries(runs)) {
    if (liveness.get(id)) continue;
    for (const w of Object.values(run.workers)) {
      pids.add(w.pid);
      pgids.add(w.pgid);
      if (w.cgroup !== undefined && provenCgroup(w.cgroup, id)) for (const pid of cgroupMembers(w.cgroup)) inCgroup.set(pid, w.cgroup);
    }
  }
  if (pids.size === 0) return [];
  // One pass over the table, then the environments of the candidates only, all at once.
  const rows = processTable((f) => f.pid !== process.pid && f.state !== 'Z' && (pids.has(f.pid) || pgids.has(f.pgid) || inCgroup.has(f.pid)));
  const runIds = environValues(rows.map((f) => f.pid), RUN_ID_ENV);
  const facts: ProcFacts[] = rows.map((f) => ({ pid: f.pid, pgid: f.pgid, sid: f.sid, uid: f.uid, startTime: f.startTime, runIdEnv: runIds.get(f.pid), cgroup: inCgroup.get(f.pid) }));
  const found: Found[] = [];
  const leaders = new Map<number, Found>();
  const unmatched: ProcFacts[] = [];
  for (const c of facts) {
    let hit: (Match & { runId: string }) | undefined;
    for (const [runId, run] of Object.entries(runs)) {
      const m = isOurs(c, runId, run, liveness.get(runId)!, self);
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
    const m = matchLeaderGroup(c, leaders, self);
    if (m) found.push({ ...m, runId: leaders.get(c.pgid)!.runId, pid: c.pid, pgid: c.pgid, startTime: c.startTime });
  }
  return found;
}
