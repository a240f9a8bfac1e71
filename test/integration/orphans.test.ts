// Workers never outlive their agent: SIGKILL the daemon (no chance to clean up) and every worker
// still goes (parent-death signal + stdin EOF); the next `up` replaces the dead agent's state.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PYTHON, killPids, pidAlive, runCli, tempDir, waitFor } from '../helpers/env.js';

const dir = tempDir('sp-orph-');
const home = join(dir.path, 'h');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };
const recorded: number[] = [];

afterAll(async () => {
  await runCli(['down', '--home', home], { env });
  killPids(recorded.filter(pidAlive));
  dir.cleanup();
});

function info(): { pid: number; workerPids: number[] } {
  return JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8')) as { pid: number; workerPids: number[] };
}

describe('agent killed with SIGKILL', () => {
  it('takes its workers with it, and the next up starts cleanly', async () => {
    const up = await runCli(['up', '--home', home, '--workers', '2'], { env });
    expect(up.code, up.stderr).toBe(0);
    const { pid, workerPids } = info();
    recorded.push(pid, ...workerPids);
    expect(workerPids).toHaveLength(2);
    for (const w of workerPids) expect(pidAlive(w)).toBe(true);

    process.kill(pid, 'SIGKILL');
    await waitFor(() => workerPids.every((w) => !pidAlive(w)), 5000);

    const again = await runCli(['up', '--home', home, '--workers', '1', '--json'], { env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/stale/);
    const next = info();
    recorded.push(next.pid, ...next.workerPids);
    expect(next.pid).not.toBe(pid);
    expect((await runCli(['exec', 'add', 'a=1', 'b=1', '--home', home], { env })).stdout).toBe('2\n');
  });
});
