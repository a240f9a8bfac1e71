// `snakepit completion` produces a script that real bash (and zsh's bashcompinit) can load, and
// that completes the actual commands and flags.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers/env.js';

function complete(script: string, words: string[]): string[] {
  const dir = tempDir('sp-comp-');
  try {
    const file = join(dir.path, 'c.sh');
    writeFileSync(file, script);
    const cword = words.length - 1;
    const r = spawnSync('bash', ['-c', `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${cword}; _snakepit; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.split('\n').filter(Boolean);
  } finally {
    dir.cleanup();
  }
}

describe('snakepit completion', () => {
  it('completes commands, their flags and doctor subcommands in bash', async () => {
    const r = await runCli(['completion']);
    expect(r.code).toBe(0);
    expect(complete(r.stdout, ['snakepit', 'ex'])).toEqual(['exec']);
    expect(complete(r.stdout, ['snakepit', 'exec', '--ses'])).toEqual(['--session']);
    expect(complete(r.stdout, ['snakepit', 'up', '--work'])).toEqual(expect.arrayContaining(['--workers', '--worker-transport']));
    expect(complete(r.stdout, ['snakepit', 'doctor', 'cl'])).toEqual(['cleanup']);
  });

  it('has a zsh variant and refuses unknown shells', async () => {
    const zsh = await runCli(['completion', 'zsh']);
    expect(zsh.stdout).toMatch(/bashcompinit/);
    const bad = await runCli(['completion', 'fish']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bash or zsh/);
  });
});
