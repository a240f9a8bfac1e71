// Signalling processes that ownership.ts has proven ours, and reaping what a worker leaves in its
// process group and cgroup. A worker that exits (on SHUTDOWN, a recycle, or a crash) can leave a
// tool's children behind; the pool reaps them right away, so they never outlive their worker for
// long, whether or not the agent keeps a registry, and removes the worker's cgroup once empty.
import { isAlive } from '../proc.js';
import { provenCgroup, removeCgroup } from './containment.js';
import { maySignalGroup, readFacts, refusal, scanRuns, selfFacts, type Found, type RunRecord, type SelfFacts } from './ownership.js';

/** Time to wait for SIGKILL to take effect before a process counts as surviving, ms. */
const KILL_SETTLE_MS = 1_000;
const POLL_MS = 25;

/**
 * TERM, wait up to `graceMs`, KILL. A group is signalled as a whole only while its leader is a
 * proven, live worker; everything else is signalled by pid. Identity (pid + start time) and the
 * `refusal` rules are re-checked from the process table right before every signal, so a pid reused meanwhile,
 * pid 1, our own group or another user's process is never hit, whatever the caller passed in.
 */
export async function killProven(targets: Found[], graceMs: number, self: SelfFacts = selfFacts()): Promise<{ killed: Found[]; survived: Found[] }> {
  const alive = (t: Found): boolean => isAlive(t.pid, t.startTime);
  /** Still the process we proved, and still allowed to be signalled. */
  const signallable = (t: Found): boolean => {
    const now = readFacts(t.pid);
    return now !== undefined && now.startTime === t.startTime && refusal(now, self) === undefined;
  };
  const leaders = targets.filter((t) => t.rule === 'worker' && t.pid === t.pgid);
  const signal = (sig: NodeJS.Signals): void => {
    const signalled = new Set<number>();
    for (const l of leaders) {
      const now = readFacts(l.pid);
      if (!now || now.startTime !== l.startTime || now.pgid !== l.pid || refusal(now, self) || !maySignalGroup(l.pgid, self)) continue;
      if (trySignal(-l.pgid, sig)) signalled.add(l.pgid);
    }
    for (const t of targets) if (!signalled.has(t.pgid) && signallable(t)) trySignal(t.pid, sig);
  };
  signal('SIGTERM');
  await until(() => !targets.some(alive), graceMs);
  if (targets.some(alive)) {
    signal('SIGKILL');
    await until(() => !targets.some(alive), KILL_SETTLE_MS);
  }
  return { killed: targets.filter((t) => !alive(t)), survived: targets.filter(alive) };
}

function trySignal(pid: number, sig: NodeJS.Signals): boolean {
  // The last line of defence: 0, 1 and -1 address the caller's group, init and every process.
  if (!Number.isInteger(pid) || Math.abs(pid) <= 1) return false;
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

async function until(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, POLL_MS));
}

/**
 * Kills the proven members of an exited worker's process group and cgroup (TERM, then KILL after
 * `graceMs`), then removes its cgroup once empty.
 */
export async function reapWorkerGroup(
  runId: string,
  worker: { id: string; pool: string; pid: number; startTime: number; cmdline: string[]; cgroup?: string | undefined },
  graceMs: number,
): Promise<Found[]> {
  if (!worker.startTime) {
    if (worker.cgroup) removeCgroup(worker.cgroup);
    return [];
  }
  const run = {
    agentPid: process.pid,
    agentStartTime: 0,
    startedAt: '',
    workers: {
      [worker.pid]: { worker: worker.id, pool: worker.pool, pid: worker.pid, pgid: worker.pid, startTime: worker.startTime, cmdline: worker.cmdline, spawnedAt: '', ...(worker.cgroup ? { cgroup: worker.cgroup } : {}) },
    },
  };
  return (await killRuns({ [runId]: run }, () => false, graceMs)).killed;
}

/**
 * Scans for what `runs` prove ours and kills it, a few rounds while proven cgroups still have
 * members (a fork racing the kill), then removes the worker cgroups that are empty. Cgroups that
 * could not be removed are returned (their run must stay in the registry).
 */
export async function killRuns(
  runs: Record<string, RunRecord>,
  alive: (run: RunRecord) => boolean,
  graceMs: number,
  /** Sees each round's targets before they are signalled (e.g. to read their command lines). */
  beforeSignal: (targets: Found[]) => void = () => {},
): Promise<{ found: Found[]; killed: Found[]; survived: Found[]; cgroupsLeft: string[] }> {
  const found = new Map<number, Found>();
  const killed = new Map<number, Found>();
  let survived: Found[] = [];
  for (let round = 0; round < KILL_ROUNDS; round++) {
    const targets = scanRuns(runs, alive);
    if (targets.length === 0) break;
    for (const t of targets) if (!found.has(t.pid)) found.set(t.pid, t);
    beforeSignal(targets);
    const r = await killProven(targets, round === 0 ? graceMs : 0);
    for (const k of r.killed) killed.set(k.pid, k);
    survived = r.survived;
    if (survived.length > 0) break;
  }
  const cgroupsLeft: string[] = [];
  for (const [id, run] of Object.entries(runs)) {
    if (alive(run)) continue;
    for (const w of Object.values(run.workers)) {
      // rmdir fails while anything (a survivor) is still inside, so nothing live is lost.
      if (!w.cgroup || !provenCgroup(w.cgroup, id)) continue;
      if (!removeCgroup(w.cgroup)) cgroupsLeft.push(w.cgroup);
    }
  }
  return { found: [...found.values()], killed: [...killed.values()], survived, cgroupsLeft };
}

/** Rounds of scan-and-kill while a proven cgroup keeps getting new members. */
const KILL_ROUNDS = 3;
