// settings.ts: what `up` compares (pure): sizes, tools, tunables and env by digest, pools, cluster.
import { describe, expect, it } from 'vitest';
import { planPools, poolOptions } from '../../src/agent/options.js';
import { runSettings, settingsDifferences } from '../../src/agent/settings.js';

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
