// `up` waits for the daemon's ready line only as long as its pools may take to start (their
// workerStartTimeoutMs per wave, plus SNAKEPIT_DAEMON_READY_TIMEOUT_MS), and when it gives up it
// stops the daemon it spawned (verified pid, then its process group) and says so: a daemon that
// hangs (here: SIGSTOPped while its worker still imports) is never left running.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readyWaitMs } from '../../src/cli/commands/up.js';
import { FIXTURES, PYTHON, pidAlive, runCli, tempDir, waitFor } from '../helpers/env.js';
import { Recorded, runCgroups } from '../security/helpers.js';

const dir = tempDir('sp-upto-');
const home = join(dir.path, 'h');
const env = {
  SNAKEPIT_PYTHON: PYTHON,
  SNAKEPIT_CONFIG_DIR: join(dir.path, 'config'),
  SNAKEPIT_WORKER_START_TIMEOUT_MS: '3000',
  SNAKEPIT_DAEMON_READY_TIMEOUT_MS: '500',
  SLOW_IMPORT_S: '3',
};
const recorded = new Recorded();

afterAll(() => {
  recorded.killAll();
  dir.cleanup();
});

describe('up gives up on a silent daemon', () => {
  it('waits longer than the pools may take to start', () => {
    expect(readyWaitMs([{ size: 4, startBatch: 8, workerStartTimeoutMs: 30_000 }], 30_000)).toBe(60_000);
    // Three waves of 8 workers, each allowed its start timeout; the slowest pool counts.
    expect(readyWaitMs([{ size: 20, startBatch: 8, workerStartTimeoutMs: 1000 }, { size: 1, startBatch: 8, workerStartTimeoutMs: 2500 }], 500)).toBe(3500);
    for (const t of [1, 1000, 90_000]) expect(readyWaitMs([{ size: 1, startBatch: 8, workerStartTimeoutMs: t }], 1)).toBeGreaterThan(t);
  });

  it('stops the daemon it spawned and says so', async () => {
    const started = Date.now();
    const up = runCli(['up', '--workers', '1', '--tools', join(FIXTURES, 'slow_import_tools.py'), '--home', home, '--json'], { env, timeoutMs: 20_000 });
    // Once its worker is spawned (and recorded), the daemon hangs; the worker is still importing.
    const registry = join(home, 'registry.json');
    let workers: number[] = [];
    await waitFor(() => {
      try {
        const doc = JSON.parse(readFileSync(registry, 'utf8')) as { runs: Record<string, { workers: Record<string, { pid: number }> }> };
        workers = Object.values(doc.runs).flatMap((r) => Object.values(r.workers).map((w) => w.pid));
      } catch {
        return false;
      }
      return workers.length === 1;
    }, 10_000, 5);
    const daemon = Number(readFileSync(join(home, 'agent.pid'), 'utf8').split(' ')[0]);
    recorded.add(daemon, ...workers);
    process.kill(daemon, 'SIGSTOP');

    const r = await up;
    const took = Date.now() - started;
    expect(r.code, r.stderr).toBe(1);
    const err = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toContain('did not report ready within 3500 ms');
    expect(err.message).toMatch(new RegExp(`stopped it \\(pid ${daemon}`));
    expect(took).toBeGreaterThanOrEqual(3500);
    expect(took).toBeLessThan(15_000);
    await waitFor(() => !pidAlive(daemon) && workers.every((w) => !pidAlive(w)), 5000);
    for (const f of ['agent.pid', 'agent.json', 'agent.sock', 'exchange.sock']) expect(existsSync(join(home, f)), f).toBe(false);
    expect(runCgroups().filter((c) => c.includes(`-${daemon}-`))).toEqual([]);
  });
});
