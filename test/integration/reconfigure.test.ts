// A running pool changes shape without a restart: `scale N` resizes it, `reload` re-reads the
// config (a new size resizes, other settings reach the replacement workers, an invalid config
// touches nothing), and `up --watch` reloads when the tools file or the config changes.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAgent, type EmbeddedAgent, type SnakepitError } from '../../src/index.js';
import { DEFAULTS } from '../../src/defaults.js';
import { PYTHON, killPids, pidAlive, runCli, tempDir, waitFor } from '../helpers/env.js';

const TOOLS = `from snakepit import tool
import os

@tool
def pid() -> int:
    return os.getpid()

@tool
def flavour() -> str:
    return os.environ.get("FLAVOUR", "none")

@tool
def nap(seconds: float = 0.2) -> int:
    import time
    time.sleep(seconds)
    return os.getpid()
`;

const dir = tempDir('sp-reconf-');
let agent: EmbeddedAgent | undefined;
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
});
afterAll(() => dir.cleanup());

function project(name: string, config: Record<string, unknown>): { config: string; tools: string } {
  const root = join(dir.path, name);
  const tools = join(root, 'tools.py');
  mkdirSync(root, { recursive: true });
  writeFileSync(tools, TOOLS);
  const configFile = join(root, 'snakepit.config.json');
  writeFileSync(configFile, JSON.stringify({ tools: './tools.py', ...config }));
  return { config: configFile, tools };
}
const codeOf = (p: Promise<unknown>): Promise<string> => p.then(() => 'OK', (e: SnakepitError) => e.code);
const readyWorkers = async (a: EmbeddedAgent): Promise<number> => (await a.stats()).workers.filter((w) => w.state === 'ready' || w.state === 'busy').length;

describe('scale (library: scalePool)', () => {
  it('grows and shrinks a running pool; calls in flight while it shrinks all succeed', async () => {
    const p = project('scale', { workers: 1 });
    agent = await startAgent({ config: p.config, python: PYTHON });
    const a = agent;
    expect(await a.scalePool(3)).toEqual({ pool: 'default', previous: 1, size: 3 });
    const s = await a.stats();
    expect(s.pools[0]!.size).toBe(3);
    expect(await readyWorkers(a)).toBe(3);
    // New slots get new ids (never a removed slot's).
    expect(s.workers.map((w) => w.id).sort()).toEqual(['default-0', 'default-1', 'default-2']);
    // Shrink while calls run on every worker: none fails; the removed workers finish theirs.
    const calls = Array.from({ length: 6 }, () => a.execute('nap', { seconds: 0.4 }));
    await new Promise((r) => setTimeout(r, 100));
    expect(await a.scalePool(1)).toEqual({ pool: 'default', previous: 3, size: 1 });
    expect(await Promise.all(calls.map(codeOf))).toEqual(Array(6).fill('OK'));
    await waitFor(async () => (await a.stats()).workers.length === 1);
    expect((await a.stats()).pools[0]!.size).toBe(1);
    await a.scalePool(2);
    expect((await a.stats()).workers.map((w) => w.id).sort()).toEqual(['default-0', 'default-3']);
  });

  it('refuses a size above maxWorkers at once, in scale and in the config, and starts no worker for it', async () => {
    // Before: `scale 1000000` started Python workers without end (465 within a minute here);
    // `scale 2` and `down` waited behind the grow, and only SIGKILL stopped the agent.
    const p = project('scale-huge', { workers: 1 });
    agent = await startAgent({ config: p.config, python: PYTHON });
    const a = agent;
    const t0 = Date.now();
    const err = await a.scalePool(DEFAULTS.maxWorkers + 1).then(
      () => undefined,
      (e: SnakepitError) => e,
    );
    expect(err?.code).toBe('USAGE');
    expect(err?.message).toMatch(new RegExp(`at most ${DEFAULTS.maxWorkers} workers \\(maxWorkers\\), got ${DEFAULTS.maxWorkers + 1}`));
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect((await a.stats()).workers).toHaveLength(1);
    const q = project('config-huge', { workers: DEFAULTS.maxWorkers + 1 });
    expect(await codeOf(startAgent({ config: q.config, python: PYTHON }))).toBe('CONFIG_INVALID');
  });

  it('a grow whose new worker cannot start is undone, with the reason; the old workers keep serving', async () => {
    const p = project('scale-broken', { workers: 1 });
    agent = await startAgent({ config: p.config, python: PYTHON });
    const before = (await agent.stats()).workers.map((w) => w.pid);
    writeFileSync(p.tools, 'raise RuntimeError("broken on purpose")\n');
    const err = await agent.scalePool(3).then(
      () => undefined,
      (e: SnakepitError) => e,
    );
    expect(err?.code).toBe('WORKER_START_FAILED');
    expect(err?.message).toMatch(/stays at 1 worker/);
    expect(err?.message).toMatch(/broken on purpose/);
    const after = await agent.stats();
    expect(after.pools[0]!.size).toBe(1);
    await waitFor(async () => (await agent!.stats()).workers.length === 1);
    expect((await agent.stats()).workers.map((w) => w.pid)).toEqual(before);
    expect(await agent.execute('pid')).toBe(before[0]);
  });

  it('a stop during a grow ends the grow with UNAVAILABLE (not a start failure), and leaves no worker', async () => {
    const p = project('scale-stop', { workers: 1 });
    const a = await startAgent({ config: p.config, python: PYTHON });
    const spawned: number[] = [];
    a.onEvent((e) => e.type === 'worker.spawned' && spawned.push(e.pid));
    const growing = a.scalePool(6).then(
      () => undefined,
      (e: SnakepitError) => e,
    );
    await waitFor(() => spawned.length >= 1, 10_000, 5);
    await a.stop();
    const err = await growing;
    expect(err?.code).toBe('UNAVAILABLE');
    expect(err?.message).toMatch(/was stopped while it grew from 1 to 6 workers/);
    await waitFor(() => spawned.every((pid) => !pidAlive(pid)), 10_000);
  });

  it('refuses a size below 1 with a clear message', async () => {
    const p = project('scale-zero', { workers: 1 });
    agent = await startAgent({ config: p.config, python: PYTHON });
    const err = await agent.scalePool(0).catch((e: SnakepitError) => e);
    expect((err as SnakepitError).code).toBe('USAGE');
    expect((err as SnakepitError).message).toMatch(/at least 1 worker/);
  });
});

describe('reload re-reads the config', () => {
  it('a changed size resizes, a changed env reaches the replacements, and the changes are reported', async () => {
    const p = project('reload', { workers: 1, env: { FLAVOUR: 'vanilla' } });
    agent = await startAgent({ config: p.config, python: PYTHON });
    expect(await agent.execute('flavour')).toBe('vanilla');
    writeFileSync(p.config, JSON.stringify({ tools: './tools.py', workers: 2, env: { FLAVOUR: 'lemon' } }));
    const r = await agent.reloadReport();
    expect(r.changes).toContain('pool default: workers 1 → 2');
    expect(r.changes).toContain('pool default: env changed (values not shown)');
    expect((await agent.stats()).pools[0]!.size).toBe(2);
    expect(await readyWorkers(agent)).toBe(2);
    // Every worker now runs with the new env (the old one was replaced, the new one started with it).
    const seen = new Set(await Promise.all(Array.from({ length: 8 }, () => agent!.execute('flavour'))));
    expect([...seen]).toEqual(['lemon']);
    // Nothing changed since: a reload replaces the workers and reports no change.
    expect((await agent.reloadReport()).changes).toEqual([]);
  });

  it('an invalid config fails before any worker is touched', async () => {
    const p = project('reload-bad', { workers: 1 });
    agent = await startAgent({ config: p.config, python: PYTHON });
    const pids = (await agent.stats()).workers.map((w) => w.pid);
    writeFileSync(p.config, '{"tools": "./tools.py", "workers": "many"}');
    const err = await agent.reloadReport().catch((e: SnakepitError) => e);
    expect((err as SnakepitError).code).toBe('CONFIG_INVALID');
    expect((err as SnakepitError).message).toMatch(/workers/);
    writeFileSync(p.config, '{"tools": "./tools.py", "pools": {"default": {}, "extra": {}}}');
    const added = await agent.reloadReport().catch((e: SnakepitError) => e);
    expect((added as SnakepitError).code).toBe('CONFIG_INVALID');
    expect((added as SnakepitError).message).toMatch(/adds 'extra'.*cannot add or remove pools.*up --replace/);
    expect((await agent.stats()).workers.map((w) => w.pid)).toEqual(pids);
    expect((await agent.stats()).workers.every((w) => w.recycles === 0)).toBe(true);
  });
});

describe('the CLI: scale, reload and up --watch on a daemon', () => {
  it('scale and reload report what they did; --watch reloads on a changed tools file; up with the new config is "already running"', async () => {
    const p = project('cli', { workers: 1 });
    const home = join(dir.path, 'cli-home');
    const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };
    const cwd = join(dir.path, 'cli');
    const cli = (...args: string[]) => runCli([...args, '--home', home], { env, cwd });
    const up = await cli('up', '--watch', '--json');
    expect(up.code, up.stderr).toBe(0);
    const info = (): { pid: number; workerPids: number[]; workers: number } => JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8'));
    const daemon = info().pid;
    const seen = new Set<number>(info().workerPids);
    try {
      const scaled = await cli('scale', '2', '--json');
      expect(scaled.code, scaled.stderr).toBe(0);
      expect(JSON.parse(scaled.stdout)).toEqual({ ok: true, pool: 'default', previous: 1, size: 2 });
      expect((await cli('scale', '2')).stdout).toMatch(/already has 2 workers/);
      // agent.json follows (stats, doctor and `up` read it).
      expect(info().workers).toBe(2);
      // A scaled agent still runs its config: `up` with the same config has nothing to do.
      const again = await cli('up');
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toMatch(/already running/);

      // --watch: a new tool appears after saving the tools file, without a reload command.
      writeFileSync(p.tools, `${TOOLS}\n@tool\ndef added_later() -> str:\n    return "fresh"\n`);
      await waitFor(async () => (await cli('exec', 'added_later')).stdout.trim() === 'fresh', 30_000, 200);

      // The config's size changes: reload applies it and says so.
      writeFileSync(p.config, JSON.stringify({ tools: './tools.py', workers: 3 }));
      const reload = await cli('reload', '--json');
      // The watcher may have applied the same change first: then this reload reports none.
      expect(reload.code, reload.stderr).toBe(0);
      await waitFor(() => info().workers === 3, 30_000, 100);
      for (const w of info().workerPids) seen.add(w);
      const log = readFileSync(join(home, 'logs', 'agent.log'), 'utf8');
      expect(log).toMatch(/reload: pool default: workers 1 → 3/);
      expect(log).toMatch(/tools\.py changed: reloading/);
      const upNew = await cli('up');
      expect(upNew.code, upNew.stderr).toBe(0);
      expect(upNew.stdout).toMatch(/already running/);

      // An invalid config saved under --watch is logged; the workers keep serving.
      const pids = info().workerPids;
      writeFileSync(p.config, '{"tools": ');
      await waitFor(() => /reload after a change failed/.test(readFileSync(join(home, 'logs', 'agent.log'), 'utf8')), 30_000, 100);
      expect(info().workerPids).toEqual(pids);
      expect((await cli('exec', 'added_later')).stdout.trim()).toBe('fresh');
      const bad = await cli('reload');
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/CONFIG_INVALID|config/);
    } finally {
      await cli('down');
      killPids([daemon, ...seen].filter(pidAlive));
    }
  }, 120_000);
});
