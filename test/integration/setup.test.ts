// `snakepit setup`: finds a working interpreter, remembers its real executable, `--check` only
// checks, and a bad choice fails with a message that says what was tried and what to do.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PYTHON, runCli, tempDir } from '../helpers/env.js';

const dir = tempDir('sp-setup-');
const config = join(dir.path, 'config');
afterAll(() => dir.cleanup());

describe('snakepit setup', () => {
  it('--check proves an interpreter works and remembers nothing', async () => {
    const r = await runCli(['setup', '--check', '--python', PYTHON, '--json'], { env: { SNAKEPIT_CONFIG_DIR: config } });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, python: PYTHON, remembered: false, version: expect.stringMatching(/^3\.\d+/) });
    expect(existsSync(join(config, 'config.json'))).toBe(false);
  });

  it('remembers the real executable, which up then uses', async () => {
    const r = await runCli(['setup', '--json'], { env: { SNAKEPIT_CONFIG_DIR: config } });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { python: string; configFile: string; runtime: string };
    // The real interpreter, not a shim: it is what sys.executable says.
    expect(doc.python).toMatch(/python3(\.\d+)?$/);
    expect(doc.runtime).toBe('0.1.0');
    const stored = JSON.parse(readFileSync(doc.configFile, 'utf8')) as { python: { executable: string } };
    expect(stored.python.executable).toBe(doc.python);
    const text = await runCli(['setup', '--check'], { env: { SNAKEPIT_CONFIG_DIR: config } });
    expect(text.stdout).toMatch(/^ok: Python 3\.\d+/);
  });

  it('fails clearly when the interpreter does not exist or is not Python', async () => {
    const missing = await runCli(['setup', '--python', '/nonexistent/python9'], { env: { SNAKEPIT_CONFIG_DIR: config } });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/PYTHON_NOT_FOUND/);
    expect(missing.stderr).toMatch(/\/nonexistent\/python9 \(--python\): not found/);
    expect(missing.stderr).toMatch(/--python PATH or SNAKEPIT_PYTHON/);
    const notPython = await runCli(['setup', '--python', '/bin/false', '--json'], { env: { SNAKEPIT_CONFIG_DIR: config } });
    expect(notPython.code).toBe(1);
    expect(JSON.parse(notPython.stdout).error.code).toBe('PYTHON_NOT_FOUND');
  });
});
