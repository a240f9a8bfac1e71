// A forged registry.json must never make cleanup signal what is not ours. Two layers:
//  - in-process, with process.kill replaced by a recorder (nothing is ever really signalled, so
//    the dangerous cases are safe to try on any code): an entry naming init (pid 1, its true start
//    time, process group 1) and one naming this test's own parent must cause no signal at all;
//  - through the CLI, with real decoys: `doctor cleanup` must spare a process of ours named by a
//    forged entry with its true pid and start time, and another user's process even when it
//    carries the forged run's SNAKEPIT_RUN_ID.
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RunRecord } from '../../src/agent/ownership.js';
import { readRegistry, updateRegistry } from '../../src/agent/registry.js';
import { cleanupOrphans } from '../../src/daemon/cleanup.js';
import { homePaths } from '../../src/daemon/home.js';
import { processGroup, processStartTime } from '../../src/proc.js';
import { pidAlive, runCli, tempDir } from '../helpers/env.js';
import { NOBODY, Recorded, decoy, procEnviron } from './helpers.js';

const dir = tempDir('sp-forge-');
const recorded = new Recorded();
let n = 0;
const freshHome = (): string => {
  const home = join(dir.path, `h${n++}`);
  mkdirSync(home, { mode: 0o700 });
  return home;
};

afterEach(() => vi.restoreAllMocks());
afterAll(() => {
  recorded.killAll();
  dir.cleanup();
});

/** A dead run (its agent pid cannot exist) recording `workers` as given. */
function forge(home: string, runId: string, workers: Array<{ pid: number; pgid?: number; startTime: number }>): void {
  updateRegistry(homePaths(home).registryFile, (doc) => {
    doc.runs[runId] = {
      agentPid: 4_000_000,
      agentStartTime: 1,
      startedAt: '',
      workers: Object.fromEntries(
        workers.map((w) => [w.pid, { worker: `forged-${w.pid}`, pool: 'default', pid: w.pid, pgid: w.pgid ?? w.pid, startTime: w.startTime, cmdline: ['x'], spawnedAt: '' }]),
      ) as RunRecord['workers'],
    };
  });
}

describe('a forged registry', () => {
  it('naming init (pid 1, pgid 1, true start time) or our own parent causes no signal at all', async () => {
    const home = freshHome();
    const parent = process.ppid;
    forge(home, 'forged-init', [
      { pid: 1, pgid: 1, startTime: processStartTime(1)! },
      { pid: parent, pgid: processGroup(parent)!, startTime: processStartTime(parent)! },
    ]);
    const signals: Array<[number, string | number | undefined]> = [];
    vi.spyOn(process, 'kill').mockImplementation((pid: number, sig?: string | number) => {
      signals.push([pid, sig]);
      return true;
    });
    const r = await cleanupOrphans(home, { graceMs: 50 });
    vi.restoreAllMocks();
    expect(signals).toEqual([]); // on the old code: [[-1, 'SIGTERM'], …]
    expect(r.found).toEqual([]);
    expect(pidAlive(parent)).toBe(true);
  });

  it('killProven itself never sends kill(-1) or kill(1), whatever target it is handed', async () => {
    const init = { pid: 1, pgid: 1, startTime: processStartTime(1)!, runId: 'x', rule: 'worker' as const, why: '', worker: { worker: 'w', pool: 'p', pid: 1, pgid: 1, startTime: processStartTime(1)!, cmdline: [], spawnedAt: '' } };
    const signals: Array<[number, string | number | undefined]> = [];
    vi.spyOn(process, 'kill').mockImplementation((pid: number, sig?: string | number) => {
      signals.push([pid, sig]);
      return true;
    });
    const { killProven } = await import('../../src/agent/reap.js');
    await killProven([init], 20);
    vi.restoreAllMocks();
    expect(signals).toEqual([]); // on the old code: [[-1, 'SIGTERM'], [-1, 'SIGKILL']]
  });

  it('naming a live process of ours with its true pid and start time does not get it killed', async () => {
    const home = freshHome();
    const victim = await decoy(recorded); // no SNAKEPIT_RUN_ID: it was never a worker
    forge(home, 'forged-same-uid', [victim]);
    const r = await runCli(['doctor', 'cleanup', '--home', home, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ found: [], killed: [] });
    expect(pidAlive(victim.pid)).toBe(true);
    expect(processStartTime(victim.pid)).toBe(victim.startTime);
  });

  it('never signals another user’s process, even one carrying the forged run id', async () => {
    const home = freshHome();
    const runId = 'forged-foreign';
    const foreign = await decoy(recorded, { uid: NOBODY, env: { SNAKEPIT_RUN_ID: runId } });
    expect(procEnviron(foreign.pid).SNAKEPIT_RUN_ID).toBe(runId); // root reads it: the run id alone proves nothing
    forge(home, runId, [foreign]);
    const dry = await runCli(['doctor', 'cleanup', '--dry-run', '--home', home, '--json']);
    expect(JSON.parse(dry.stdout)).toMatchObject({ found: [] });
    const r = await runCli(['doctor', 'cleanup', '--home', home, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ found: [], killed: [], removedRuns: [runId] });
    expect(pidAlive(foreign.pid)).toBe(true);
    expect(Object.keys(readRegistry(homePaths(home).registryFile).runs)).toEqual([]);
  });
});
