// Settings the README documented but the schema did not know (restartBackoffMs,
// restartBackoffMaxMs, restartResetMs, maxStartupFailures, latencyWindow, stderrTailLines) change
// what the pool does, set as options or as SNAKEPIT_* variables. (Before: CONFIG_INVALID as
// options, silently ignored from the environment.)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startAgent, type AgentEvent, type EmbeddedAgent } from '../../src/index.js';
import { FIXTURES, PYTHON, tempDir, waitFor } from '../helpers/env.js';

let agent: EmbeddedAgent | undefined;
const dir = tempDir('sp-settings-');
afterAll(() => dir.cleanup());
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  for (const k of Object.keys(process.env)) if (k.startsWith('SNAKEPIT_RESTART_')) delete process.env[k];
});

describe('chaos: documented supervision settings are honoured', () => {
  it('restartBackoffMs, restartBackoffMaxMs (from SNAKEPIT_*) and maxStartupFailures shape a crash loop', async () => {
    const flag = join(dir.path, 'crash');
    const spawned: number[] = [];
    process.env.SNAKEPIT_RESTART_BACKOFF_MS = '400';
    process.env.SNAKEPIT_RESTART_BACKOFF_MAX_MS = '400';
    agent = await startAgent({
      python: PYTHON,
      workers: 1,
      maxStartupFailures: 3,
      tools: join(FIXTURES, 'flaky_import.py'),
      env: { CRASH_FLAG: flag },
      onEvent: (e: AgentEvent) => e.type === 'worker.spawned' && spawned.push(Date.now()),
    });
    const healthy = (await agent.execute('pid')) as number;
    writeFileSync(flag, '');
    process.kill(healthy, 'SIGKILL');
    await waitFor(async () => (await agent!.stats()).pools[0]!.degraded !== null, 15_000);
    expect((await agent.stats()).pools[0]!.degraded).toMatch(/died during startup 3 times in a row/);
    await new Promise((r) => setTimeout(r, 300));
    // 1 healthy start, the immediate restart, then 2 more after the backoff: 3 startup deaths.
    expect(spawned).toHaveLength(4);
    const gaps = spawned.slice(1).map((t, i) => t - spawned[i]!);
    // From the second crash in a row: 400 ms, and capped at 400 (uncapped it would be 800).
    expect(gaps[1]!).toBeGreaterThanOrEqual(400);
    expect(gaps[2]!).toBeGreaterThanOrEqual(400);
    expect(gaps[2]!).toBeLessThan(800);
  });

  it('restartResetMs: a worker up that long counts as healthy, so its next crash restarts at once', async () => {
    const ready: number[] = [];
    agent = await startAgent({ python: PYTHON, workers: 1, restartBackoffMs: 5_000, restartResetMs: 200, tools: join(FIXTURES, 'pool_tools.py'), onEvent: (e) => e.type === 'worker.ready' && ready.push(Date.now()) });
    for (let crash = 0; crash < 2; crash++) {
      await new Promise((r) => setTimeout(r, 400)); // up longer than restartResetMs
      const victim = (await agent.execute('pid')) as number;
      const killedAt = Date.now();
      process.kill(victim, 'SIGKILL');
      await waitFor(() => ready.length === crash + 2, 10_000);
      // Without the reset the second crash in a row would wait restartBackoffMs (5 s).
      expect(ready[crash + 1]! - killedAt).toBeLessThan(3_000);
    }
  });

  it('latencyWindow: the percentiles cover only that many recent calls', async () => {
    agent = await startAgent({ python: PYTHON, workers: 1, latencyWindow: 1, tools: join(FIXTURES, 'pool_tools.py') });
    await agent.execute('nap', { seconds: 0.3 });
    await agent.execute('pid');
    expect((await agent.stats()).latencyMs.p99).toBeLessThan(250);
  });

  it('stderrTailLines: a failed start quotes that many lines of its stderr', async () => {
    const failure = (n: number) =>
      startAgent({ python: PYTHON, workers: 1, stderrTailLines: n, tools: join(FIXTURES, 'broken_tools.py') }).then(
        (a) => a.stop().then(() => ''),
        (e: Error) => e.message,
      );
    const [two, many] = await Promise.all([failure(2), failure(40)]);
    expect(two.split('\n').slice(1)).toHaveLength(2);
    expect(two).toMatch(/this module is broken on purpose/);
    expect(many.split('\n').length).toBeGreaterThan(4);
  });
});
