// Out of file descriptors: respawning a worker fails inside spawn() (EMFILE). That must be a
// worker start failure like any other (backoff, then `degraded` after maxStartupFailures), never
// an exception that takes the agent down. The agent runs in a child process under a low fd limit
// (test/fixtures/emfile_agent.mjs), so the real condition is reproduced without touching ours.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/defaults.js';
import { FIXTURES, PYTHON, killPids, pidAlive } from '../helpers/env.js';

interface Report {
  fds: number;
  victim: number;
  survivor: number;
  served: number[];
  degraded: string | null;
  exits: number;
  spawned: number;
}

describe('chaos: out of file descriptors', () => {
  it('turns a spawn that fails with EMFILE into startup failures; the agent lives and keeps serving', async () => {
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile('prlimit', ['--nofile=256:256', process.execPath, join(FIXTURES, 'emfile_agent.mjs'), PYTHON, join(FIXTURES, 'pool_tools.py')], { timeout: 40_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
      });
    });
    const report = run.stdout.trim() ? (JSON.parse(run.stdout.trim().split('\n').pop()!) as Report) : undefined;
    if (report) killPids([report.victim, report.survivor].filter(pidAlive));
    expect(run.stderr).not.toMatch(/TypeError|Uncaught/);
    expect(run.code, run.stderr).toBe(0);
    expect(report!.fds).toBeGreaterThan(0);
    // The pool gave up on the slot after the usual number of failed starts, saying why…
    expect(report!.degraded).toMatch(new RegExp(`died during startup ${DEFAULTS.maxStartupFailures} times in a row`));
    expect(report!.degraded).toMatch(/EMFILE/);
    // …one exit for the SIGKILL, then one per failed respawn, and no process was ever spawned.
    expect(report!.exits).toBe(1 + DEFAULTS.maxStartupFailures);
    expect(report!.spawned).toBe(2);
    // The other worker served calls the whole time.
    expect(report!.served).toEqual([report!.survivor]);
  });
});
