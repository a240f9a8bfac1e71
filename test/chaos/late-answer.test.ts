// An answer that arrives after the call's deadline is a TIMEOUT. The demo `sleep` tool returns
// once ctx.cancelled turns true at its deadline, the very moment the agent's own timer fires; on
// a busy machine (here: four CPU hogs per core) the answer used to win in about a third of 30 calls here,
// so a call "succeeded" past its timeout (a flaky test on shared CI machines).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { startAgent, type EmbeddedAgent, type SnakepitError } from '../../src/index.js';
import { PYTHON } from '../helpers/env.js';

let agent: EmbeddedAgent;
const hogs: ChildProcess[] = [];

beforeAll(async () => {
  agent = await startAgent({ python: PYTHON, workers: 2 });
});

afterEach(() => {
  for (const h of hogs.splice(0)) h.kill('SIGKILL');
});

afterAll(async () => {
  await agent?.stop();
});

describe('an answer after the deadline', () => {
  it('is a TIMEOUT, however busy the machine is', async () => {
    for (let i = 0; i < availableParallelism() * 4; i++) hogs.push(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
    const late: string[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = Date.now();
      const code = await agent.execute('sleep', { seconds: 5 }, { timeoutMs: 300 }).then(
        () => 'OK',
        (e: SnakepitError) => e.code,
      );
      if (code !== 'TIMEOUT') late.push(`${code} after ${Date.now() - t0} ms`);
    }
    expect(late).toEqual([]);
  }, 60_000);
});
