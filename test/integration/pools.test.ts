// Several named pools from a project config file, served by one daemon: `exec --pool`, tools per
// pool, threaded capacity, a bad config refused before anything starts, and drain / reload.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '../../src/index.js';
import { FIXTURES, PYTHON, killPids, pidAlive, runCli, tempDir, waitFor } from '../helpers/env.js';

const dir = tempDir('sp-pools-');
const home = join(dir.path, 'h');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };
const project = join(dir.path, 'project');
const recorded: number[] = [];
const cli = (...args: string[]) => runCli([...args, '--home', home], { env, cwd: project });

function writeTools(version: string): void {
  writeFileSync(
    join(project, 'versioned.py'),
    `import time\nfrom snakepit import tool\nSNAKEPIT_THREAD_SAFE = True\n\n@tool\ndef version() -> str:\n    """Which code is loaded."""\n    return "${version}"\n\n@tool\ndef hold(seconds: float) -> str:\n    """Sleep."""\n    time.sleep(seconds)\n    return "${version}"\n`,
  );
}

beforeAll(async () => {
  const { mkdirSync } = await import('node:fs');
  mkdirSync(project, { recursive: true });
  writeTools('v1');
  copyFileSync(join(FIXTURES, 'pool_tools.py'), join(project, 'pool_tools.py'));
  writeFileSync(
    join(project, 'snakepit.config.json'),
    JSON.stringify({
      heartbeatMs: 500,
      pools: {
        main: { tools: './versioned.py', size: 2, threads: 2 },
        aux: { tools: './pool_tools.py', size: 1, affinity: 'strict-fail-fast', pipeline: 0 },
      },
    }),
  );
  const up = await cli('up', '--json');
  expect(up.code, up.stderr).toBe(0);
  const info = JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8')) as { pid: number; workerPids: number[] };
  recorded.push(info.pid, ...info.workerPids);
  expect(info.workerPids).toHaveLength(3);
});

afterAll(async () => {
  await cli('down');
  killPids(recorded.filter(pidAlive));
  dir.cleanup();
});

describe('pools from snakepit.config.json', () => {
  it('serves each pool its own tools; exec --pool picks one', async () => {
    expect((await cli('exec', 'version')).stdout).toBe('v1\n'); // first pool is the default
    expect((await cli('exec', 'pid', '--pool', 'aux', '--json')).code).toBe(0);
    const wrongPool = await cli('exec', 'pid', '--pool', 'main', '--json');
    expect(JSON.parse(wrongPool.stdout).error.code).toBe('TOOL_NOT_FOUND');
    const noPool = await cli('exec', 'pid', '--pool', 'nope', '--json');
    expect(JSON.parse(noPool.stdout).error.message).toMatch(/no pool named 'nope'.*main, aux/);
    const tools = JSON.parse((await cli('tools', '--json')).stdout) as { tools: Array<{ name: string; pool: string }> };
    expect(tools.tools.find((t) => t.name === 'version')!.pool).toBe('main');
    expect(tools.tools.find((t) => t.name === 'nap')!.pool).toBe('aux');
    const stats = JSON.parse((await cli('stats', '--json')).stdout) as { pools: Array<{ name: string; size: number; affinity: string }> };
    expect(stats.pools).toEqual([expect.objectContaining({ name: 'main', size: 2, affinity: 'hint' }), expect.objectContaining({ name: 'aux', size: 1, affinity: 'strict-fail-fast' })]);
  });

  it('runs several calls per worker in a threaded pool, one at a time otherwise', async () => {
    const client = connect({ home });
    try {
      const main = Array.from({ length: 4 }, () => client.execute('hold', { seconds: 0.5 }, { pool: 'main' }));
      // 2 workers × 2 threads: all four run at once, two on each worker, nothing queued.
      await waitFor(async () => {
        const s = await client.stats();
        return s.workers.filter((w) => w.pool === 'main').every((w) => w.inFlight === 2);
      });
      expect((await client.stats()).queue.depth).toBe(0);
      await Promise.all(main);
      const aux = Array.from({ length: 2 }, () => client.execute('nap', { seconds: 0.3 }, { pool: 'aux' }));
      await waitFor(async () => (await client.stats()).queue.depth === 1);
      expect((await client.stats()).workers.find((w) => w.pool === 'aux')!.inFlight).toBe(1);
      await Promise.all(aux);
    } finally {
      client.close();
    }
  });

  it('reload replaces every worker with the new code and fails no call', async () => {
    writeTools('v2');
    const client = connect({ home });
    let failures = 0;
    let calls = 0;
    let loading = true;
    const load = (async () => {
      while (loading) {
        calls++;
        await client.execute('version', {}, { pool: 'main' }).catch(() => failures++);
      }
    })();
    try {
      const r = await cli('reload', '--pool', 'main', '--json');
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ ok: true, replaced: 2, changes: [] });
    } finally {
      loading = false;
      await load;
      client.close();
    }
    expect(calls).toBeGreaterThan(10);
    expect(failures).toBe(0);
    expect((await cli('exec', 'version')).stdout).toBe('v2\n');
    const info = JSON.parse((await cli('stats', '--json')).stdout) as { workers: Array<{ pid: number }> };
    recorded.push(...info.workers.map((w) => w.pid));
  });

  it('a reload whose new code fails to import keeps the old workers serving', async () => {
    writeFileSync(join(project, 'versioned.py'), 'raise SyntaxError("broken on purpose")\n');
    const r = await cli('reload', '--pool', 'main', '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'WORKER_START_FAILED', message: expect.stringContaining('broken on purpose') });
    expect((await cli('exec', 'version')).stdout).toBe('v2\n');
    writeTools('v2');
  });

  it('drain: accepted calls finish, new calls get DRAINING, then the agent stops', async () => {
    const client = connect({ home });
    const info = JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8')) as { pid: number };
    try {
      // Long enough that the drain (a CLI process, slow to start on a loaded machine: seen over 2.5 s) arrives while it runs.
      const running = client.execute('nap', { seconds: 6 }, { pool: 'aux' });
      await waitFor(async () => (await client.stats()).calls.inFlight === 1);
      const drain = cli('drain', '--json');
      await waitFor(async () => {
        const e = await client.execute('version').catch((err: { code: string }) => err);
        return (e as { code?: string }).code === 'DRAINING';
      });
      expect(typeof (await running)).toBe('number');
      const r = await drain;
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ ok: true, drained: true, pid: info.pid });
      expect(pidAlive(info.pid)).toBe(false);
    } finally {
      client.close();
    }
  });
});

describe('a bad config file', () => {
  it('is refused before anything starts, naming the key', async () => {
    const bad = join(dir.path, 'bad.json');
    writeFileSync(bad, JSON.stringify({ pools: { main: { tools: './versioned.py', sizee: 2 } } }));
    const r = await runCli(['up', '--config', bad, '--home', join(dir.path, 'h2'), '--json'], { env, cwd: project });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining("'pools.main.sizee'") });
  });
});
