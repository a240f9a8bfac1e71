import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { planPools, poolOptions } from '../../src/agent/options.js';
import { checkPoolSettings, envSettings } from '../../src/config/schema.js';
import { DEFAULTS } from '../../src/defaults.js';
import { tempDir } from '../helpers/env.js';

const temp = tempDir('sp-conf-');
const dir = temp.path;
afterAll(() => temp.cleanup());
function configFile(content: unknown): string {
  const p = join(dir, `c${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}
function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect((err as { code: string }).code).toBe('CONFIG_INVALID');
    return (err as Error).message;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('pool settings schema', () => {
  it('accepts every documented setting and the size alias', () => {
    expect(checkPoolSettings({ size: 3, affinity: 'strict-queue', maxRssMb: 512.5, env: { A: 'b' } }, '')).toEqual({ workers: 3, affinity: 'strict-queue', maxRssMb: 512.5, env: { A: 'b' } });
  });

  it('names the offending key and suggests the right one', () => {
    expect(configError(() => checkPoolSettings({ maxQeue: 5 }, 'pools.ml'))).toMatch(/'pools\.ml\.maxQeue'.*did you mean 'maxQueue'/);
    expect(configError(() => checkPoolSettings({ workers: 0 }, ''))).toMatch(/'workers': expected an integer between 1 and 1024, got 0/);
    expect(configError(() => checkPoolSettings({ affinity: 'sticky' }, ''))).toMatch(/'affinity': expected one of hint, strict-queue, strict-fail-fast/);
    expect(configError(() => checkPoolSettings({ env: { A: 1 } }, 'pools.x'))).toMatch(/'pools\.x\.env\.A'/);
    expect(configError(() => checkPoolSettings({ size: 1, workers: 2 }, ''))).toMatch(/both 'size' and 'workers'/);
    expect(configError(() => checkPoolSettings({ recycleJitter: 2 }, ''))).toMatch(/between 0 and 1/);
  });

  it('reads SNAKEPIT_* overrides and rejects bad ones by variable name', () => {
    expect(envSettings({ SNAKEPIT_MAX_QUEUE: '50', SNAKEPIT_AFFINITY: 'strict-fail-fast' })).toEqual({ maxQueue: 50, affinity: 'strict-fail-fast' });
    expect(configError(() => envSettings({ SNAKEPIT_HEARTBEAT_MS: 'soon' }))).toMatch(/'SNAKEPIT_HEARTBEAT_MS'/);
  });
});

describe('config file → pools', () => {
  it('merges file defaults < pool settings < environment < flags, per pool', () => {
    const path = configFile({ maxQueue: 10, workers: 1, pools: { a: { workers: 2 }, b: { maxQueue: 20, affinity: 'strict-queue' } } });
    const plans = planPools({ config: path, queueTimeoutMs: 99 }, dir, { SNAKEPIT_MAX_QUEUE: '30' });
    expect(plans.map((p) => p.name)).toEqual(['a', 'b']);
    expect(plans[0]!.settings).toMatchObject({ workers: 2, maxQueue: 30, queueTimeoutMs: 99 });
    expect(plans[1]!.settings).toMatchObject({ workers: 1, maxQueue: 30, affinity: 'strict-queue' });
    const opts = poolOptions(plans[1]!, '/usr/bin/python3');
    expect(opts).toMatchObject({ name: 'b', size: 1, maxQueue: 30, affinity: 'strict-queue', queueTimeoutMs: 99, heartbeatMs: DEFAULTS.heartbeatMs });
    expect(opts.spec.cwd).toBe(dir);
  });

  it('resolves tools paths against the config file directory and reports missing ones', () => {
    writeFileSync(join(dir, 'mytools.py'), '');
    const ok = planPools({ config: configFile({ tools: './mytools.py' }) }, '/');
    expect(poolOptions(ok[0]!, 'python3').spec.tools).toBe(join(dir, 'mytools.py'));
    const missing = planPools({ config: configFile({ pools: { ml: { tools: './nope.py' } } }) }, '/');
    expect(configError(() => poolOptions(missing[0]!, 'python3'))).toMatch(/'pools\.ml\.tools': file not found/);
  });

  it('rejects broken files with the reason', () => {
    expect(configError(() => planPools({ config: configFile('{"workers": 2,') }, dir))).toMatch(/cannot read the config file/);
    expect(configError(() => planPools({ config: join(dir, 'absent.json') }, dir))).toMatch(/file not found/);
    expect(configError(() => planPools({ config: configFile({ pools: {} }) }, dir))).toMatch(/'pools'/);
    expect(configError(() => planPools({ config: configFile({ pools: { 'bad name': {} } }) }, dir))).toMatch(/pool names/);
    expect(configError(() => planPools({ config: configFile([1]) }, dir))).toMatch(/JSON object/);
  });
});
