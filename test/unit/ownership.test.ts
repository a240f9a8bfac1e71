// The "is ours" rule with fabricated /proc facts: pid reuse, copied command lines and copied
// environments must never make a process ours; a live agent protects its whole run; a forged
// registry can never make pid 1, our own group or session, or another user's process a target.
import { describe, expect, it } from 'vitest';
import { isOurs, matchLeaderGroup, maySignalGroup, refusal, type Match, type ProcFacts, type RunRecord, type SelfFacts } from '../../src/agent/ownership.js';

const RUN = 'run-1';
const run: RunRecord = {
  agentPid: 100,
  agentStartTime: 5000,
  startedAt: '2026-01-01T00:00:00.000Z',
  workers: {
    '200': { worker: 'default-0', pool: 'default', pid: 200, pgid: 200, startTime: 6000, cmdline: ['python3', '-m', 'snakepit'], spawnedAt: '' },
    '300': { worker: 'default-1', pool: 'default', pid: 300, pgid: 300, startTime: 6100, cmdline: ['python3', '-m', 'snakepit'], spawnedAt: '', exitedAt: '' },
  },
};
/** The cleaner: pid 50 in group 40 of session 30, uid 1000. */
const SELF: SelfFacts = { pid: 50, pgid: 40, sid: 30, uid: 1000 };
/** A candidate leads its own group and session (as a worker does), runs as uid 1000. */
const facts = (f: Partial<ProcFacts>): ProcFacts => {
  const pid = f.pid ?? 999;
  return { pid, pgid: pid, sid: f.pgid ?? pid, uid: 1000, startTime: 7000, runIdEnv: undefined, ...f };
};
const ours = (c: ProcFacts, alive = false, r: RunRecord = run) => isOurs(c, RUN, r, alive, SELF);

describe('isOurs', () => {
  it('(a) a recorded worker: pid, start time and inherited run id match', () => {
    expect(ours(facts({ pid: 200, pgid: 200, startTime: 6000, runIdEnv: RUN }))).toMatchObject({ rule: 'worker', worker: { worker: 'default-0' } });
  });

  it('a record naming some live process with its true pid and start time proves nothing without the run id', () => {
    expect(ours(facts({ pid: 200, pgid: 200, startTime: 6000 }))).toBeUndefined();
    expect(ours(facts({ pid: 200, pgid: 200, startTime: 6000, runIdEnv: 'another-run' }))).toBeUndefined();
  });

  it('a reused pid (same pid, other start time) is not ours, even in the right group', () => {
    expect(ours(facts({ pid: 200, pgid: 200, startTime: 6001 }))).toBeUndefined();
    expect(ours(facts({ pid: 200, pgid: 200, startTime: 5999, runIdEnv: RUN }))).toBeUndefined();
  });

  it('(b) a group member: same pgid, started after the worker, SNAKEPIT_RUN_ID of the run', () => {
    expect(ours(facts({ pid: 201, pgid: 200, startTime: 6000, runIdEnv: RUN }))).toMatchObject({ rule: 'group', worker: { pid: 200 } });
    // A member of an exited worker's group counts as well (that is why exited entries are kept).
    expect(ours(facts({ pid: 301, pgid: 300, startTime: 9000, runIdEnv: RUN }))).toMatchObject({ rule: 'group', worker: { pid: 300 } });
  });

  it('the decoy: same environment (run id) but its own process group is not ours', () => {
    expect(ours(facts({ pid: 400, pgid: 400, startTime: 9000, runIdEnv: RUN }))).toBeUndefined();
  });

  it('a group member needs the run id, and to have started no earlier than the worker', () => {
    expect(ours(facts({ pid: 201, pgid: 200, startTime: 7000, runIdEnv: undefined }))).toBeUndefined();
    expect(ours(facts({ pid: 201, pgid: 200, startTime: 7000, runIdEnv: 'run-2' }))).toBeUndefined();
    expect(ours(facts({ pid: 201, pgid: 200, startTime: 5999, runIdEnv: RUN }))).toBeUndefined();
  });

  it('nothing is ours while the run’s agent is alive', () => {
    expect(ours(facts({ pid: 200, pgid: 200, startTime: 6000, runIdEnv: RUN }), true)).toBeUndefined();
    expect(ours(facts({ pid: 201, pgid: 200, startTime: 7000, runIdEnv: RUN }), true)).toBeUndefined();
  });

  it('a record without a start time proves nothing', () => {
    const unknown: RunRecord = { ...run, workers: { '500': { ...run.workers['200']!, pid: 500, pgid: 500, startTime: 0 } } };
    expect(ours(facts({ pid: 500, pgid: 500, startTime: 0 }), false, unknown)).toBeUndefined();
    expect(ours(facts({ pid: 501, pgid: 500, startTime: 10, runIdEnv: RUN }), false, unknown)).toBeUndefined();
  });
});

describe('forged registries', () => {
  /** A dead run whose registry entry names `pid` (pgid as given) with the start time /proc reports. */
  const forged = (pid: number, pgid = pid, cgroup?: string): RunRecord => ({
    ...run,
    workers: { [pid]: { worker: 'forged', pool: 'default', pid, pgid, startTime: 100, cmdline: ['x'], spawnedAt: '', ...(cgroup ? { cgroup } : {}) } },
  });

  it('pid 1 (init) is never ours, even with its true start time and the run id in its environment', () => {
    const init = facts({ pid: 1, pgid: 1, sid: 1, startTime: 100, runIdEnv: RUN });
    expect(ours(init, false, forged(1))).toBeUndefined();
    expect(refusal(init, SELF)).toMatch(/pid 1 is ≤ 1/);
  });

  it('a process whose group is ≤ 1 is never ours, and a group ≤ 1 is never signalled', () => {
    expect(ours(facts({ pid: 600, pgid: 1, sid: 1, startTime: 100, runIdEnv: RUN }), false, forged(600, 1))).toBeUndefined();
    expect(ours(facts({ pid: 600, pgid: 0, sid: 0, startTime: 100, runIdEnv: RUN }), false, forged(600, 0))).toBeUndefined();
    for (const g of [-1, 0, 1]) expect(maySignalGroup(g, SELF)).toBe(false);
    expect(maySignalGroup(600, SELF)).toBe(true);
  });

  it('our own pid, group and session are never ours (the cleaner, its shell)', () => {
    expect(ours(facts({ pid: 50, pgid: 40, sid: 30, startTime: 100, runIdEnv: RUN }), false, forged(50))).toBeUndefined();
    expect(ours(facts({ pid: 41, pgid: 40, sid: 30, startTime: 100, runIdEnv: RUN }), false, forged(41))).toBeUndefined();
    expect(ours(facts({ pid: 30, pgid: 30, sid: 30, startTime: 100, runIdEnv: RUN }), false, forged(30))).toBeUndefined();
    expect(ours(facts({ pid: 31, pgid: 31, sid: 30, startTime: 100, runIdEnv: RUN }), false, forged(31))).toBeUndefined();
    expect(refusal(facts({ pid: 31, pgid: 31, sid: 30 }), SELF)).toMatch(/own session/);
    for (const g of [SELF.pid, SELF.pgid, SELF.sid]) expect(maySignalGroup(g, SELF)).toBe(false);
  });

  it('another user’s process is never ours, whatever else matches (root could signal it)', () => {
    const foreign = facts({ pid: 700, startTime: 100, runIdEnv: RUN, uid: 65534 });
    expect(ours(foreign, false, forged(700))).toBeUndefined();
    expect(refusal(foreign, SELF)).toMatch(/uid 65534/);
    expect(ours(facts({ pid: 700, startTime: 100, runIdEnv: RUN, uid: -1 }), false, forged(700))).toBeUndefined(); // setuid: mixed uids
    expect(ours(facts({ pid: 700, startTime: 100, runIdEnv: RUN, uid: undefined }), false, forged(700))).toBeUndefined();
  });

  it('a group member counts only for a record that leads its group (pgid = pid)', () => {
    expect(ours(facts({ pid: 801, pgid: 800, startTime: 200, runIdEnv: RUN }), false, forged(999, 800))).toBeUndefined();
  });

  it('(d) a member of the worker’s proven cgroup is ours without the run id; of another cgroup, not', () => {
    const cg = '/sys/fs/cgroup/unified/snakepit-run-1-default-0-1-0';
    const withCg = forged(900, 900, cg);
    expect(ours(facts({ pid: 950, sid: 950, startTime: 200, cgroup: cg }), false, withCg)).toMatchObject({ rule: 'cgroup' });
    expect(ours(facts({ pid: 950, sid: 950, startTime: 99, cgroup: cg }), false, withCg)).toBeUndefined(); // older than the worker
    expect(ours(facts({ pid: 950, sid: 950, startTime: 200, cgroup: `${cg}x` }), false, withCg)).toBeUndefined();
    expect(ours(facts({ pid: 950, sid: 950, startTime: 200, cgroup: cg, uid: 0 }), false, withCg)).toBeUndefined();
  });
});

describe('matchLeaderGroup', () => {
  const leader: Match = { worker: run.workers['200']!, rule: 'worker', why: '' };
  const leaders = new Map([[200, leader]]);

  it('(c) covers a member of a live, proven leader’s group even without the run id', () => {
    expect(matchLeaderGroup(facts({ pid: 202, pgid: 200, startTime: 6500 }), leaders, SELF)).toMatchObject({ rule: 'leader-group', worker: { pid: 200 } });
  });

  it('not the leader itself, not another group, not a process older than the leader', () => {
    expect(matchLeaderGroup(facts({ pid: 200, pgid: 200, startTime: 6000 }), leaders, SELF)).toBeUndefined();
    expect(matchLeaderGroup(facts({ pid: 202, pgid: 201, startTime: 6500 }), leaders, SELF)).toBeUndefined();
    expect(matchLeaderGroup(facts({ pid: 202, pgid: 200, startTime: 5000 }), leaders, SELF)).toBeUndefined();
  });
});
