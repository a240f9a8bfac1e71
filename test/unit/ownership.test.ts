// The "is ours" rule with fabricated /proc facts: pid reuse, copied command lines and copied
// environments must never make a process ours; a live agent protects its whole run.
import { describe, expect, it } from 'vitest';
import { isOurs, matchLeaderGroup, type Match, type ProcFacts, type RunRecord } from '../../src/agent/ownership.js';

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
const facts = (f: Partial<ProcFacts>): ProcFacts => ({ pid: 999, pgid: 999, startTime: 7000, runIdEnv: undefined, ...f });

describe('isOurs', () => {
  it('(a) a recorded worker: pid and start time match', () => {
    expect(isOurs(facts({ pid: 200, pgid: 200, startTime: 6000 }), RUN, run, false)).toMatchObject({ rule: 'worker', worker: { worker: 'default-0' } });
  });

  it('a reused pid (same pid, other start time) is not ours, even in the right group', () => {
    expect(isOurs(facts({ pid: 200, pgid: 200, startTime: 6001 }), RUN, run, false)).toBeUndefined();
    expect(isOurs(facts({ pid: 200, pgid: 200, startTime: 5999, runIdEnv: RUN }), RUN, run, false)).toBeUndefined();
  });

  it('(b) a group member: same pgid, started after the worker, SNAKEPIT_RUN_ID of the run', () => {
    expect(isOurs(facts({ pid: 201, pgid: 200, startTime: 6000, runIdEnv: RUN }), RUN, run, false)).toMatchObject({ rule: 'group', worker: { pid: 200 } });
    // A member of an exited worker's group counts as well (that is why exited entries are kept).
    expect(isOurs(facts({ pid: 301, pgid: 300, startTime: 9000, runIdEnv: RUN }), RUN, run, false)).toMatchObject({ rule: 'group', worker: { pid: 300 } });
  });

  it('the decoy: same environment (run id) but its own process group is not ours', () => {
    expect(isOurs(facts({ pid: 400, pgid: 400, startTime: 9000, runIdEnv: RUN }), RUN, run, false)).toBeUndefined();
  });

  it('a group member needs the run id, and to have started no earlier than the worker', () => {
    expect(isOurs(facts({ pid: 201, pgid: 200, startTime: 7000, runIdEnv: undefined }), RUN, run, false)).toBeUndefined();
    expect(isOurs(facts({ pid: 201, pgid: 200, startTime: 7000, runIdEnv: 'run-2' }), RUN, run, false)).toBeUndefined();
    expect(isOurs(facts({ pid: 201, pgid: 200, startTime: 5999, runIdEnv: RUN }), RUN, run, false)).toBeUndefined();
  });

  it('nothing is ours while the run’s agent is alive', () => {
    expect(isOurs(facts({ pid: 200, pgid: 200, startTime: 6000 }), RUN, run, true)).toBeUndefined();
    expect(isOurs(facts({ pid: 201, pgid: 200, startTime: 7000, runIdEnv: RUN }), RUN, run, true)).toBeUndefined();
  });

  it('a record without a start time proves nothing', () => {
    const unknown: RunRecord = { ...run, workers: { '500': { ...run.workers['200']!, pid: 500, pgid: 500, startTime: 0 } } };
    expect(isOurs(facts({ pid: 500, pgid: 500, startTime: 0 }), RUN, unknown, false)).toBeUndefined();
    expect(isOurs(facts({ pid: 501, pgid: 500, startTime: 10, runIdEnv: RUN }), RUN, unknown, false)).toBeUndefined();
  });
});

describe('matchLeaderGroup', () => {
  const leader: Match = { worker: run.workers['200']!, rule: 'worker', why: '' };
  const leaders = new Map([[200, leader]]);

  it('(c) covers a member of a live, proven leader’s group even without the run id', () => {
    expect(matchLeaderGroup(facts({ pid: 202, pgid: 200, startTime: 6500 }), leaders)).toMatchObject({ rule: 'leader-group', worker: { pid: 200 } });
  });

  it('not the leader itself, not another group, not a process older than the leader', () => {
    expect(matchLeaderGroup(facts({ pid: 200, pgid: 200, startTime: 6000 }), leaders)).toBeUndefined();
    expect(matchLeaderGroup(facts({ pid: 202, pgid: 201, startTime: 6500 }), leaders)).toBeUndefined();
    expect(matchLeaderGroup(facts({ pid: 202, pgid: 200, startTime: 5000 }), leaders)).toBeUndefined();
  });
});
