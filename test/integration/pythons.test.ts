// Issue 10, point 14: the Python side is a package too, and works on every Python the README
// promises. `snakepit python-path` names the directory to pip install (then a tools file imports
// outside a worker: tests, IDEs); the README's tools example runs on every CPython >= 3.9 this
// machine offers, and an older one is refused naming its version.
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runCli, tempDir } from '../helpers/env.js';

const dir = tempDir('sp-py-');
afterAll(() => dir.cleanup());
const env = { SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };

/** The README's own tools example (the first python block of "Writing tools"). */
function readmeTools(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Writing tools'));
  return /```python\n([\s\S]*?)```/.exec(section)![1]!;
}

/** CPython interpreters on this machine: Debian's, and every pyenv version. */
function interpreters(): Array<{ path: string; version: [number, number] }> {
  const found = ['/usr/bin/python3'];
  const pyenv = process.env.PYENV_ROOT ?? join(process.env.HOME ?? '/root', '.pyenv');
  if (existsSync(join(pyenv, 'versions'))) for (const v of readdirSync(join(pyenv, 'versions'))) found.push(join(pyenv, 'versions', v, 'bin', v.startsWith('2') ? 'python' : 'python3'));
  return found
    .filter((p) => existsSync(p))
    .map((path) => {
      const r = spawnSync(path, ['-c', "import sys; sys.stdout.write('%d.%d' % sys.version_info[:2])"], { encoding: 'utf8' });
      const [major, minor] = r.stdout.split('.').map(Number);
      return { path, version: [major!, minor!] as [number, number] };
    })
    .filter((i) => Number.isInteger(i.version[0]));
}

describe('the Python package', () => {
  it('python-path names a directory pip installs (same version as the npm package), after which a tools file imports outside a worker', async () => {
    const r = await runCli(['python-path', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const { path } = JSON.parse(r.stdout) as { path: string };
    expect(existsSync(join(path, 'pyproject.toml'))).toBe(true);
    expect((await runCli(['python-path'], { env })).stdout).toBe(`${path}\n`);
    // Offline here: a venv that sees Debian's setuptools and wheel, no index. Installed from a
    // copy, so the build leaves nothing in the checkout.
    const src = join(dir.path, 'src');
    cpSync(path, src, { recursive: true, filter: (p) => !p.includes('__pycache__') && !p.endsWith('/tests') });
    execFileSync('/usr/bin/python3', ['-m', 'venv', '--system-site-packages', join(dir.path, 'venv')]);
    execFileSync(join(dir.path, 'venv', 'bin', 'pip'), ['install', '--quiet', '--no-index', '--no-build-isolation', src], { stdio: 'ignore' });
    writeFileSync(join(dir.path, 'my_tools.py'), readmeTools());
    const out = execFileSync(join(dir.path, 'venv', 'bin', 'python'), ['-c', 'import importlib.metadata as m, my_tools, snakepit; print(m.version("snakepit"), snakepit.__version__, my_tools.add(2, 3))'], { cwd: dir.path, encoding: 'utf8' });
    const npm = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(out.trim()).toBe(`${npm} ${npm} 5`);
  }, 60_000);

  it("runs the README's tools example on every CPython >= 3.9 here, and refuses an older one naming its version", async () => {
    const { startAgent } = await import('../../src/embedded.js');
    writeFileSync(join(dir.path, 'readme_tools.py'), readmeTools());
    const all = interpreters();
    const supported = all.filter((i) => i.version[0] === 3 && i.version[1] >= 9);
    expect(supported.length).toBeGreaterThan(0);
    const tested: string[] = [];
    for (const { path, version } of supported) {
      const agent = await startAgent({ tools: join(dir.path, 'readme_tools.py'), workers: 1, python: path });
      try {
        expect(await agent.execute('add', { a: 1, b: 2 }), path).toBe(3);
        expect(await agent.execute('remember', { key: 'k', value: 'v' }, { session: 's' }), path).toEqual({ k: 'v' });
        expect(await agent.execute('remember', { key: 'k' }, { session: 's' }), path).toEqual({ k: 'v' });
        tested.push(version.join('.'));
      } finally {
        await agent.stop();
      }
    }
    for (const { path, version } of all.filter((i) => i.version[0] < 3 || (i.version[0] === 3 && i.version[1] < 9))) {
      const r = await runCli(['setup', '--python', path, '--check'], { env });
      expect(r.code, path).toBe(1);
      expect(r.stderr).toContain(`Python ${version.join('.')}`);
      expect(r.stderr).toMatch(/too old/);
    }
    console.log(`README tools example ran on CPython ${tested.join(', ')}`);
  }, 120_000);
});
