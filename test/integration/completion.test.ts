// `snakepit completion` produces a script that real bash (and zsh's bashcompinit) can load, and
// that completes the actual commands and flags.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, PYTHON, ROOT, runCli, tempDir } from '../helpers/env.js';
import { chmodSync, mkdirSync } from 'node:fs';

function complete(script: string, words: string[], env: Record<string, string> = {}, fn = '_snakepit'): string[] {
  const dir = tempDir('sp-comp-');
  try {
    const file = join(dir.path, 'c.sh');
    writeFileSync(file, script);
    const cword = words.length - 1;
    const r = spawnSync('bash', ['-c', `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${cword}; ${fn}; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, ...env } });
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

  it('completes exec with the running agent\'s tool names, and works after npx', async () => {
    const dir = tempDir('sp-comp-agent-');
    const home = join(dir.path, 'home');
    const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };
    // `snakepit` on PATH, as a user who installed it has it.
    const bin = join(dir.path, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'snakepit'), `#!/bin/sh\nexec ${process.execPath} ${CLI} "$@"\n`);
    chmodSync(join(bin, 'snakepit'), 0o755);
    const shellEnv = { ...env, SNAKEPIT_HOME: home, PATH: `${bin}:${process.env.PATH}` };
    const up = await runCli(['up', '--workers', '1', '--home', home], { env });
    expect(up.code, up.stderr).toBe(0);
    try {
      const script = (await runCli(['completion'])).stdout;
      expect(complete(script, ['snakepit', 'exec', 're'], shellEnv)).toEqual(['reverse_bytes']);
      expect(complete(script, ['snakepit', 'exec', 's'], shellEnv)).toEqual(['sleep', 'stats']);
      expect(complete(script, ['npx', 'snakepit', 'ex'], shellEnv, '_snakepit_npx')).toEqual(['exec']);
      expect(complete(script, ['npx', 'snakepit', 'exec', '--ti'], shellEnv, '_snakepit_npx')).toEqual(['--timeout']);
      // No agent: no names, and no error on the terminal.
      expect(complete(script, ['snakepit', 'exec', 're'], { ...shellEnv, SNAKEPIT_HOME: join(dir.path, 'nobody') })).toEqual([]);
    } finally {
      await runCli(['down', '--home', home], { env });
      dir.cleanup();
    }
  });

  it('has a zsh variant and refuses unknown shells', async () => {
    const zsh = await runCli(['completion', 'zsh']);
    expect(zsh.stdout).toMatch(/bashcompinit/);
    const bad = await runCli(['completion', 'fish']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bash or zsh/);
  });
});
