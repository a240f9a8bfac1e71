// `snakepit init DIR` never writes through a symbolic link: a dangling link in DIR named like a
// template file would otherwise create a file outside DIR, and a link to an existing file would
// overwrite it with --force. Both are refused (exit 2) and nothing outside DIR changes.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers/env.js';

const dir = tempDir('sp-initln-');
const env = { SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };

afterAll(() => dir.cleanup());

describe('init through a symlink', () => {
  it('refuses a dangling link in DIR and creates nothing outside it', async () => {
    const project = join(dir.path, 'dangling');
    const outside = join(dir.path, 'outside');
    mkdirSync(project);
    mkdirSync(outside);
    symlinkSync(join(outside, 'evil.py'), join(project, 'tools.py'));
    for (const args of [[], ['--force']]) {
      const r = await runCli(['init', project, ...args, '--json'], { env });
      expect(r.code, args.join(' ')).toBe(2);
      expect((JSON.parse(r.stdout) as { error: { message: string } }).error.message).toContain(`${join(project, 'tools.py')} is a symbolic link (to ${join(outside, 'evil.py')})`);
    }
    expect(readdirSync(outside)).toEqual([]);
    expect(lstatSync(join(project, 'tools.py')).isSymbolicLink()).toBe(true);
    expect(readdirSync(project)).toEqual(['tools.py']);
  });

  it('with --force, a link to an existing file outside DIR is not followed', async () => {
    const project = join(dir.path, 'linked');
    const target = join(dir.path, 'precious.md');
    mkdirSync(project);
    writeFileSync(target, 'keep me\n');
    symlinkSync(target, join(project, 'README.md'));
    const r = await runCli(['init', project, '--force'], { env });
    expect(r.code).toBe(2);
    expect(readFileSync(target, 'utf8')).toBe('keep me\n');
    expect(existsSync(join(project, 'tools.py'))).toBe(false);
  });

  it('a plain init still works, and --force replaces regular files', async () => {
    const project = join(dir.path, 'plain');
    expect((await runCli(['init', project], { env })).code).toBe(0);
    writeFileSync(join(project, 'tools.py'), 'changed\n');
    expect((await runCli(['init', project, '--force'], { env })).code).toBe(0);
    expect(readFileSync(join(project, 'tools.py'), 'utf8')).toContain('@tool');
    expect(readdirSync(project).sort()).toEqual(['README.md', 'snakepit.config.json', 'tools.py']);
  });
});
