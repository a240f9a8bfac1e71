// Recycling by memory reads the Python process's RSS from whichever source of process facts is
// in use: /proc here, and `ps` in the ps-facts test project (as on macOS), where RSS comes from a
// shared snapshot at most a second old. The default heartbeat (its tick re-checks the limit)
// leaves room for that lag on a loaded machine.
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startAgent, type EmbeddedAgent } from '../../src/index.js';
import { FIXTURES, PYTHON, pidAlive, waitFor } from '../helpers/env.js';

let agent: EmbeddedAgent | undefined;
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
});

describe('maxRssMb', () => {
  it('recycles a worker whose Python process grew above it, and only that one', async () => {
    agent = await startAgent({ python: PYTHON, tools: join(FIXTURES, 'pool_tools.py'), workers: 2, maxRssMb: 60 });
    // One worker naps while the other grows (free workers are always used first).
    const napping = agent.execute('nap', { seconds: 1 });
    const big = (await agent.execute('grow', { mb: 80 })) as number;
    const small = (await napping) as number;
    expect(small).not.toBe(big);
    await waitFor(async () => (await agent!.stats()).pools[0]!.recycled === 1, 15_000);
    await waitFor(() => !pidAlive(big), 5000);
    expect(pidAlive(small)).toBe(true);
    expect((await agent.stats()).workers.find((w) => w.pid === small)?.rssBytes).toBeGreaterThan(0);
  });
});
