// The README's configuration table and the code agree, in both directions:
// - every default in src/defaults.ts and every setting of the schema has a row;
// - every name in the table's first column is a schema setting, a default, or a known alias;
// - every schema setting is honoured: set through its SNAKEPIT_* variable (or as an option, for
//   the few that have none) it changes the pool options the engine receives;
// - every default a pool's options are built from is such a setting: the table promises that
//   each of its pool settings can be set in the config file, the environment and as a flag.
// It is generic: a new default or setting needs a README row (and, if a pool uses it, a schema
// field), nothing here.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULTS } from '../../src/defaults.js';
import { POOL_FIELDS, type FieldSpec } from '../../src/config/schema.js';
import { planPools, poolOptions } from '../../src/agent/options.js';
import { FIXTURES, ROOT } from '../helpers/env.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## Configuration'));
/** The first table of the Configuration section: its rows, header and rule excluded. */
const rows = section
  .slice(section.indexOf('\n| setting'))
  .split('\n')
  .slice(1)
  .filter((l, i, all) => l.startsWith('|') && all.slice(0, i).every((p) => p.startsWith('|')))
  .slice(1);
/** Setting names of the table: backticked words of each row's first cell (flags excluded). */
const documented = new Set(rows.flatMap((r) => [...r.split('|')[1]!.matchAll(/`([A-Za-z][A-Za-z0-9]*)`/g)].map((m) => m[1]!)));
/** Names in the table that are neither a setting nor a default: aliases of settings. */
const ALIASES: Record<string, string> = { size: 'workers' };

const fields = POOL_FIELDS as Record<string, FieldSpec>;
const defaults = DEFAULTS as Record<string, unknown>;

/** SNAKEPIT_MAX_QUEUE for maxQueue, as the README says. */
const envName = (key: string): string => `SNAKEPIT_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

/** A valid value of a setting that differs from its default. */
function otherValue(key: string, spec: FieldSpec): unknown {
  const dflt = defaults[key];
  switch (spec.type) {
    case 'integer':
      return (typeof dflt === 'number' ? dflt : spec.min) + 1;
    case 'number':
      return spec.max !== undefined ? (dflt === (spec.min + spec.max) / 2 ? spec.max : (spec.min + spec.max) / 2) : (typeof dflt === 'number' ? dflt : spec.min) + 1;
    case 'enum':
      return spec.values.find((v) => v !== dflt);
    case 'env':
      return { SOME_VAR: '1' };
    case 'string':
      return key === 'tools' ? join(FIXTURES, 'pool_tools.py') : key === 'cwd' ? FIXTURES : '/some/python';
  }
}

const plan = (opts: Record<string, unknown>, env: Record<string, string> = {}) => planPools(opts, ROOT, env)[0]!;
const build = (opts: Record<string, unknown> = {}, env: Record<string, string> = {}) => poolOptions(plan(opts, env), '/usr/bin/python3');

describe('README configuration table', () => {
  it('parses the table', () => {
    expect(rows.length).toBeGreaterThan(20);
    expect(documented).toContain('maxQueue');
  });

  it.each(Object.keys(DEFAULTS))('documents the default %s', (key) => {
    expect(documented).toContain(key);
  });

  it.each(Object.keys(POOL_FIELDS))('documents the setting %s', (key) => {
    expect(documented).toContain(key);
  });

  it.each([...documented])('documents only what exists: %s', (name) => {
    expect(name in fields || name in defaults || name in ALIASES, `'${name}' is in the README table but is no setting (src/config/schema.ts), no default (src/defaults.ts) and no alias`).toBe(true);
  });
});

describe('settings are honoured', () => {
  // python, tools, cwd and env have no SNAKEPIT_* variable (README); python is resolved apart
  // from the pool options (resolvePools), so it is checked there by the integration tests.
  const viaOption = new Set(['python', 'tools', 'cwd', 'env']);
  const keys = Object.keys(POOL_FIELDS).filter((k) => k !== 'python');

  it.each(keys)('%s changes the pool options the engine gets', (key) => {
    const value = otherValue(key, fields[key]!);
    const changed = viaOption.has(key) ? build({ [key]: value }) : build({}, { [envName(key)]: String(value) });
    expect(changed, `${viaOption.has(key) ? key : envName(key)}=${JSON.stringify(value)} is ignored`).not.toEqual(build());
  });

  it('builds every pool option from a setting, never from a fixed default', () => {
    // Watch which defaults poolOptions reads: each must be a setting the table can promise.
    const read = new Set<string>();
    const saved = Object.getOwnPropertyDescriptors(DEFAULTS);
    for (const key of Object.keys(DEFAULTS)) {
      Object.defineProperty(DEFAULTS, key, { configurable: true, enumerable: true, get: () => (read.add(key), saved[key]!.value) });
    }
    try {
      build();
    } finally {
      Object.defineProperties(DEFAULTS, saved);
    }
    expect(read.size).toBeGreaterThan(10);
    const fixed = [...read].filter((k) => !(k in fields));
    expect(fixed, 'pool defaults without a schema field in src/config/schema.ts (the README says they can be set)').toEqual([]);
  });

  it('reads SNAKEPIT_RESTART_BACKOFF_MS and SNAKEPIT_RESTART_BACKOFF_MAX_MS (once silently ignored)', () => {
    const o = build({}, { SNAKEPIT_RESTART_BACKOFF_MS: '250', SNAKEPIT_RESTART_BACKOFF_MAX_MS: '4000' });
    expect([o.restartBackoffMs, o.restartBackoffMaxMs]).toEqual([250, 4000]);
    expect(build({ restartBackoffMaxMs: 3000, maxStartupFailures: 2, restartResetMs: 900 })).toMatchObject({ restartBackoffMaxMs: 3000, maxStartupFailures: 2, restartResetMs: 900 });
  });
});
