// A tools module that hangs on import. At workerStartTimeoutMs the agent asks the worker for its
// Python stacks (SIGUSR1, faulthandler), then kills it; during the pool's start that fails the
// start at once with WORKER_START_FAILED naming the module and the line it is stuck on, instead of
// retrying maxStartupFailures times (5 × 30 s by default, so `up` gave up first). Embedded and
// through `snakepit up`, whose daemon must be gone afterwards.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentEvent } from '../../src/index.js';
import { FIXTURES, PYTHON, runCli, tempDir } from '../helpers/env.js';

const module = join(FIXTURES, 'hang_import.py');
const stuckLine = new RegExp(`File "${module.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}", line 8 in wait_for_server`);
const home = tempDir('sp-hang-');
afterAll(() => home.cleanup());

describe('chaos: a tools module that hangs on import', () => {
  it('fails startAgent within the start timeout, with the module and where it hangs, without retrying', async () => {
    const events: AgentEvent[] = [];
    const t0 = Date.now();
    const err = (await startAgent({ python: PYTHON, tools: module, workers: 2, workerStartTimeoutMs: 1_500, onEvent: (e) => events.push(e) }).then(
      (a) => a.stop().then(() => undefined),
      (e: unknown) => e,
    )) as { code: string; message: string };
    const ms = Date.now() - t0;
    expect(err.code).toBe('WORKER_START_FAILED');
    expect(err.message).toContain(`tools module ${module}`);
    expect(err.message).toMatch(/hung while starting: not ready within 1500 ms, stuck in File ".*threading\.py", line \d+ in wait, from File ".*hang_import\.py", line 8 in wait_for_server/);
    expect(err.message).toMatch(stuckLine);
    expect(err.message).toMatch(/line 11 in <module>/);
    // One start per worker, no respawn, and well before a second start timeout could pass.
    expect(events.filter((e) => e.type === 'worker.spawned')).toHaveLength(2);
    expect(ms).toBeLessThan(1_500 * 2 + 2_000);
  });

  it('makes `up` report the hang and leaves no daemon behind', async () => {
    const env = { SNAKEPIT_HOME: home.path, SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_WORKER_START_TIMEOUT_MS: '1500' };
    const t0 = Date.now();
    const up = await runCli(['up', '--tools', module, '--workers', '1'], { env, timeoutMs: 30_000 });
    const ms = Date.now() - t0;
    expect(up.code).toBe(1);
    expect(up.stderr).toMatch(/WORKER_START_FAILED|hung while starting/);
    expect(up.stderr).toMatch(stuckLine);
    expect(ms).toBeLessThan(15_000);
    const stats = await runCli(['stats'], { env });
    expect(stats.code).toBe(3); // no agent reachable: the daemon stopped
  });
});
