// Shared setup of the chaos tests: an embedded agent over the pool fixture, stopped after each
// test, plus every pid a test froze or spawned, killed by pid.
import { afterEach } from 'vitest';
import { join } from 'node:path';
import { startAgent, type EmbeddedAgent, type SnakepitError, type AgentOptions } from '../../src/index.js';
import { FIXTURES, PYTHON, pidAlive } from '../helpers/env.js';

let current: EmbeddedAgent | undefined;
export const touched: number[] = [];

afterEach(async () => {
  for (const pid of touched) if (pidAlive(pid)) process.kill(pid, 'SIGCONT');
  await current?.stop();
  current = undefined;
  for (const pid of touched.splice(0)) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
});

export async function chaosAgent(options: AgentOptions): Promise<EmbeddedAgent> {
  current = await startAgent({ python: PYTHON, tools: join(FIXTURES, 'pool_tools.py'), ...options });
  return current;
}

export const codeOf = (p: Promise<unknown>): Promise<string> => p.then(() => 'OK', (e: SnakepitError) => e.code);
