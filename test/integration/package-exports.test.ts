// The package as a consumer resolves it by name (node_modules/snakepit, here a link to this
// checkout): `import` and `require()` (Node ≥ 20.19 loads an ES module with require) give the same
// API. Before, the exports map had only an `import` condition: `require('snakepit')` failed with
// ERR_PACKAGE_PATH_NOT_EXPORTED.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join, posix } from 'node:path';
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

describe('the tarball (npm pack --dry-run)', () => {
  it('holds the LICENSE, and every source map points at a file it ships', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const files = new Set((JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path));
    expect(files.has('LICENSE')).toBe(true);
    const maps = [...files].filter((f) => f.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(20);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(join(ROOT, map), 'utf8')) as { sources: string[] };
      for (const s of sources) {
        const shipped = posix.normalize(posix.join(posix.dirname(map), s));
        if (!files.has(shipped)) missing.push(`${map} → ${shipped}`);
      }
    }
    expect(missing).toEqual([]);
    // Nothing generated or private rides along.
    expect([...files].filter((f) => f.includes('__pycache__') || f.startsWith('test/') || f.startsWith('node_modules/'))).toEqual([]);
  });
});
