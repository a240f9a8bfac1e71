// The package as a consumer resolves it by name (node_modules/snakepit, here a link to this
// checkout): `import` and `require()` (Node ≥ 20.19 loads an ES module with require) give the same
// API. Before, the exports map had only an `import` condition: `require('snakepit')` failed with
// ERR_PACKAGE_PATH_NOT_EXPORTED.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from '../helpers/env.js';

describe('the package by name', () => {
  it('require() and import give the same API (connect, startAgent, SnakepitError)', () => {
    const dir = tempDir('sp-pkg-');
    try {
      mkdirSync(join(dir.path, 'node_modules'));
      symlinkSync(ROOT, join(dir.path, 'node_modules', 'snakepit'), 'dir');
      const names = "['connect', 'startAgent', 'SnakepitError', 'ERROR_CODES'].map((k) => k + ':' + typeof m[k]).join(',')";
      const viaRequire = execFileSync(process.execPath, ['-e', `const m = require('snakepit'); console.log(${names})`], { cwd: dir.path, encoding: 'utf8' });
      const viaImport = execFileSync(process.execPath, ['--input-type=module', '-e', `const m = await import('snakepit'); console.log(${names})`], { cwd: dir.path, encoding: 'utf8' });
      expect(viaRequire.trim()).toBe('connect:function,startAgent:function,SnakepitError:function,ERROR_CODES:object');
      expect(viaImport).toBe(viaRequire);
    } finally {
      dir.cleanup();
    }
  });
});
