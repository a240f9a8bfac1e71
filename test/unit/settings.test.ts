// settings.ts: what `up` compares (pure): sizes, tools, tunables and env by digest, pools, cluster.
import { describe, expect, it } from 'vitest';
import { planPools, poolOptions } from '../../src/agent/options.js';
import { reloadPlan, runSettings, settingsDifferences } from '../../src/agent/settings.js';
import { watchPlan } from '../../src/daemon/watch-files.js';

const plan = (opts: Parameters<typeof planPools>[0]) => planPools(opts, '/tmp', {}).map((p) => poolOptions(p, '/usr/bin/python3'));

describe('run settings', () => {
  it('the same options give no difference; each changed one is named', () => {
    const base = runSettings(plan({ workers: 2 }));
    expect(settingsDifferences(base, runSettings(plan({ workers: 2 })))).toEqual([]);
    expect(settingsDifferences(base, runSettings(plan({ workers: 3, threads: 2 })))).toEqual(['pool default: workers 2 running, 3 asked', 'pool default: threads 1 running, 2 asked']);
    expect(settingsDifferences(base, runSettings(plan({ workers: 2 }), { metricsPort: 9464 }))).toEqual(['metrics port: none running, 9464 asked']);
    expect(settingsDifferences(base, runSettings(plan({ workers: 2 }), { agents: 3 }))).toEqual(['an agent runs, a cluster of 3 agents is asked']);
  });

  it('env values are never kept, only a digest: a changed secret is "env differs"', () => {
    const a = runSettings(plan({ workers: 1, env: { API_KEY: 'secret-one' } } as never));
    const b = runSettings(plan({ workers: 1, env: { API_KEY: 'secret-two' } } as never));
    expect(JSON.stringify(a)).not.toContain('secret-one');
    expect(settingsDifferences(a, b)).toEqual(['pool default: env differs (values not shown)']);
  });
});

describe('reload plan (what a reload applies)', () => {
  const pools = (opts: Parameters<typeof planPools>[0]) => plan(opts);
  it('a changed size is a resize; other settings are listed; an unchanged pool has no change', () => {
    const steps = reloadPlan(pools({ workers: 2 }), pools({ workers: 4, maxQueue: 10 }));
    expect(steps).toEqual([expect.objectContaining({ name: 'default', resize: 4, changes: ['pool default: workers 2 → 4', 'pool default: maxQueue 1000 → 10'] })]);
    expect(reloadPlan(pools({ workers: 2 }), pools({ workers: 2 }))).toEqual([expect.objectContaining({ resize: undefined, changes: [] })]);
  });

  it('`only` limits it to one pool; adding or removing a pool is an error naming the fix', () => {
    const two = pools({ pools: { a: { workers: 1 }, b: { workers: 1 } } });
    const changed = pools({ pools: { a: { workers: 3 }, b: { workers: 2 } } });
    const onlyB = reloadPlan(two, changed, 'b');
    expect(Array.isArray(onlyB) && onlyB.map((s) => [s.name, s.resize])).toEqual([['b', 2]]);
    const added = reloadPlan(two, pools({ pools: { a: {}, b: {}, c: {} } }));
    expect(added).toEqual({ error: expect.stringMatching(/adds 'c'.*cannot add or remove pools.*snakepit up --replace/) });
    expect(reloadPlan(two, pools({ pools: { a: {} } }))).toEqual({ error: expect.stringMatching(/drops 'b'/) });
  });
});

describe('watch plan (up --watch)', () => {
  it('watches the config by name and .py files beside each tools file, one watcher per directory', () => {
    const plan = watchPlan({ config: '/p/snakepit.config.json', tools: ['/p/tools.py', '/p/lib/more.py', 'some.module'] });
    expect([...plan.keys()].sort()).toEqual(['/p', '/p/lib']);
    const p = plan.get('/p')!;
    expect([p('snakepit.config.json'), p('tools.py'), p('helper.py'), p('.tools.py.swp'), p('.hidden.py'), p('notes.txt'), p('other.json')]).toEqual([true, true, true, false, false, false, false]);
    expect(watchPlan({ tools: [] }).size).toBe(0);
  });
});
