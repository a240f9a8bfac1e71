// `cleanupOrphans` against a fabricated registry and real `sleep` processes: a live worker of a
// dead run is killed with its whole process group (a child that scrubbed its environment too);
// a decoy with the run id in its own group, a recycled pid, and the run of a live agent survive.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunRecord } from '../../src/agent/ownership.js';
import { readRegistry, updateRegistry } from '../../src/agent/registry.js';
import { cleanupOrphans, findOrphans } from '../../src/daemon/cleanup.js';
import { homePaths } from '../../src/daemon/home.js';
import { processGroup, processStartTime } from '../../src/proc.js';
import { killPids, pidAlive, tempDir, waitFor } from '../helpers/env.js';

const dir = tempDir('sp-clean-');
const home = join(dir.path, 'h');
mkdirSync(home, { mode: 0o700 });
const recorded: number[] = [];

afterAll(() => {
  killPids(recorded.filter(pidAlive));
  dir.cleanup();
});

function start(script: string, runId: string): number {
  const p = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore', env: { ...process.env, SNAKEPIT_RUN_ID: runId } });
  p.unref();
  recorded.push(p.pid!);
  return p.pid!;
}

function worker(pid: number, startTime = processStartTime(pid)!): RunRecord['workers'][string] {
  return { worker: `w-${pid}`, pool: 'default', pid, pgid: pid, startTime, cmdline: ['sh'], spawnedAt: '' };
}

/** Direct children of a process, from /proc (never by name). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

describe('cleanupOrphans', () => {
  it('kills exactly what the registry proves, whole groups of live workers included', async () => {
    // Dead run R: a live worker (group leader) with a child carrying the run id and a child
    // that dropped it from its environment.
    const leader = start('env -u SNAKEPIT_RUN_ID sleep 301 & sleep 302 & wait', 'R');
    await waitFor(() => childrenOf(leader).filter((p) => processGroup(p) === leader && processStartTime(p) !== undefined).length === 2);
    const members = childrenOf(leader);
    recorded.push(...members);
    // A decoy with R's environment in its own group, a process whose pid is recorded for dead run
    // R2 with another start time (pid reuse), and a worker of a run whose agent (us) is alive.
    const decoy = start('exec sleep 303', 'R');
    const reused = start('exec sleep 304', 'UNRELATED');
    const protectedWorker = start('exec sleep 305', 'LIVE');
    await waitFor(() => [decoy, reused, protectedWorker].every((p) => processStartTime(p) !== undefined));

    const dead = { agentPid: 4_000_000, agentStartTime: 1, startedAt: '' };
    updateRegistry(homePaths(home).registryFile, (doc) => {
      doc.runs['R'] = { ...dead, workers: { [leader]: worker(leader) } };
      doc.runs['R2'] = { ...dead, workers: { [reused]: worker(reused, processStartTime(reused)! - 1) } };
      doc.runs['LIVE'] = { agentPid: process.pid, agentStartTime: processStartTime(process.pid)!, startedAt: '', workers: { [protectedWorker]: worker(protectedWorker) } };
    });

    const found = findOrphans(home);
    expect(found.map((o) => o.pid).sort()).toEqual([leader, ...members].sort());
    expect(new Set(found.map((o) => o.runId))).toEqual(new Set(['R']));
    expect(found.find((o) => o.pid === leader)?.why).toMatch(/pid, start time and SNAKEPIT_RUN_ID match/);

    const r = await cleanupOrphans(home, { graceMs: 2000 });
    expect(r.killed.map((o) => o.pid).sort()).toEqual([leader, ...members].sort());
    expect(r.survived).toEqual([]);
    expect(r.removedRuns.sort()).toEqual(['R', 'R2']);
    for (const p of [leader, ...members]) expect(pidAlive(p)).toBe(false);
    for (const p of [decoy, reused, protectedWorker]) expect(pidAlive(p)).toBe(true);
    expect(Object.keys(readRegistry(homePaths(home).registryFile).runs)).toEqual(['LIVE']);
  });
});
