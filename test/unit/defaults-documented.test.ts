// Every tunable has one default in src/defaults.ts, and each one appears in the README's
// configuration table, so none can be added without being documented.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULTS } from '../../src/defaults.js';
import { POOL_FIELDS } from '../../src/config/schema.js';
import { ROOT } from '../helpers/env.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 5));

describe('configuration docs', () => {
  it.each(Object.keys(DEFAULTS))('documents the default %s in the README configuration table', (key) => {
    expect(table).toMatch(new RegExp(`\`${key}\``));
  });
  it.each(Object.keys(POOL_FIELDS))('documents the config setting %s', (key) => {
    expect(table).toMatch(new RegExp(`\`${key}\``));
  });
});
