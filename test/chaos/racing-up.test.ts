// Racing `up`s and `down`s on one home. Without a lock, the loser of two simultaneous `up`s failed
// with EADDRINUSE and its failure path deleted the winner's agent.json, agent.pid and sockets: the
// winner kept running unreachable. With the home lock: 10 concurrent `up`s start exactly one agent
// and all exit 0; a `down` racing an `up` stops the agent that `up` started; nothing is left.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, PYTHON, pidAlive, runCli, tempDir, waitFor } from '../helpers/env.js';
import { Recorded, daemonsIn, processesIn, runCgroups } from '../security/helpers.js';

const dir = tempDir('sp-race-');
const home = join(dir.path, 'h');
// A private working directory: every daemon and worker started here is found by its cwd.
const cwd = join(dir.path, 'cwd');
mkdirSync(cwd);
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };
const recorded = new Recorded();
const cli = (...args: string[]) => runCli([...args, '--home', home], { env, cwd, timeoutMs: 60_000 });

afterAll(async () => {
  await cli('down');
  recorded.add(...processesIn(cwd));
  recorded.killAll();
  dir.cleanup();
});

/** No process started from `cwd`, no file but the logs in the home, no cgroup of the runs. */
async function leavesNothing(runIds: string[]): Promise<void> {
  await waitFor(() => processesIn(cwd).length === 0, 10_000);
  // Logs and the home's agent id (kept across runs, like a machine id) stay; nothing of an agent does.
  expect(readdirSync(home).filter((f) => f !== 'logs' && f !== 'agent.id')).toEqual([]);
  for (const id of runIds) expect(runCgroups(id)).toEqual([]);
}
const runIdOf = (stdout: string): string => (JSON.parse(stdout) as { runId: string }).runId;

describe('racing up and down on one home', () => {
  it('10 concurrent ups: exactly one agent, all exit 0; down leaves nothing', async () => {
    const started = Date.now();
    const ups = await Promise.all(Array.from({ length: 10 }, () => cli('up', '--workers', '1', '--json')));
    const took = Date.now() - started;
    const pids = new Set<number>();
    for (const u of ups) {
      expect(u.code, u.stderr + u.stdout).toBe(0);
      const doc = JSON.parse(u.stdout) as { ok: boolean; pid: number };
      expect(doc.ok).toBe(true);
      pids.add(doc.pid);
    }
    recorded.add(...pids, ...processesIn(cwd));
    expect(ups.filter((u) => !(JSON.parse(u.stdout) as { alreadyRunning?: boolean }).alreadyRunning)).toHaveLength(1);
    expect([...pids]).toHaveLength(1);
    const [pid] = [...pids];
    expect(daemonsIn(cwd)).toEqual([pid]);
    const exec = await cli('exec', 'add', 'a=2', 'b=3');
    expect(exec.stdout).toBe('5\n');
    console.log(`10 concurrent ups took ${took} ms`);

    const down = await cli('down', '--json');
    expect(JSON.parse(down.stdout)).toMatchObject({ ok: true, stopped: true, pid });
    expect(pidAlive(pid!)).toBe(false);
    await leavesNothing([runIdOf(ups[0]!.stdout)]);
  });

  it('an up arriving while another one’s agent is still starting waits for it and reports it', async () => {
    const slow = { ...env, SLOW_IMPORT_S: '1.5' };
    const first = runCli(['up', '--workers', '1', '--tools', join(FIXTURES, 'slow_import_tools.py'), '--home', home, '--json'], { env: slow, cwd });
    await waitFor(() => existsSync(join(home, 'agent.pid')), 10_000, 5); // its daemon runs, not ready yet
    const second = await runCli(['up', '--workers', '1', '--tools', join(FIXTURES, 'slow_import_tools.py'), '--home', home, '--json'], { env, cwd });
    const a = await first;
    expect(a.code, a.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    const started = JSON.parse(a.stdout) as { pid: number; runId: string };
    recorded.add(started.pid, ...processesIn(cwd));
    expect(JSON.parse(second.stdout)).toMatchObject({ alreadyRunning: true, pid: started.pid });
    expect(second.stderr).toMatch(/waiting for pid \d+ \(up\)/);
    expect((await cli('down')).code).toBe(0);
    await leavesNothing([started.runId]);
  });

  it('a down started right after an up stops the agent that up started', async () => {
    for (const delay of [0, 100, 300]) {
      const up = cli('up', '--workers', '1', '--json');
      await new Promise((r) => setTimeout(r, delay));
      const down = await cli('down', '--json');
      const u = await up;
      expect(u.code, u.stderr).toBe(0);
      expect(down.code, down.stderr).toBe(0);
      recorded.add(...processesIn(cwd));
      // Whoever came first, no agent may survive the down: either it stopped the agent, or it
      // ran before that agent existed and a later check finds it still reachable.
      const left = daemonsIn(cwd);
      if (left.length > 0) {
        expect(JSON.parse(down.stdout)).toMatchObject({ stopped: false });
        const status = await cli('doctor', '--json');
        expect((JSON.parse(status.stdout) as { checks: Array<{ name: string; detail: string }> }).checks.find((c) => c.name === 'agent')!.detail).toContain(`pid ${left[0]} answers`);
        expect((await cli('down')).code).toBe(0);
      } else {
        expect(JSON.parse(down.stdout)).toMatchObject({ stopped: true, pid: (JSON.parse(u.stdout) as { pid: number }).pid });
      }
      await leavesNothing([runIdOf(u.stdout)]);
    }
  });
});
