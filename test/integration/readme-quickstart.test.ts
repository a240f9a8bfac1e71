// The README's quick start, run as written: every line of its two `sh` blocks, in order, in a
// fresh home and a fresh directory, with `npx snakepit` meaning this checkout's CLI. A line that
// fails (or an example that drifted from what the CLI takes) fails the test, with its output.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, PYTHON, ROOT, tempDir } from '../helpers/env.js';

function quickStart(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Writing tools'));
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.split('\n')).filter((l) => l.trim() !== '');
}

describe("the README's quick start", () => {
  it('runs line by line as written', () => {
    const lines = quickStart();
    expect(lines.filter((l) => l.startsWith('npx snakepit')).length).toBeGreaterThan(10);
    const dir = tempDir('sp-readme-');
    try {
      // `npx snakepit …` runs this checkout's CLI; `logs --follow` runs until Ctrl-C, so it gets
      // one after a moment (it exits 0 on SIGINT, which is what is checked).
      const script = [
        'set -e',
        `npx() { [ "$1" = snakepit ] || return 99; shift; case " $* " in *" --follow "*) node ${CLI} "$@" & p=$!; sleep 1.5; kill -INT $p; wait $p ;; *) node ${CLI} "$@" ;; esac; }`,
        ...lines.map((l) => `echo "+ ${l.replace(/["`$\\]/g, '\\$&')}" >&2; ${l}`),
      ].join('\n');
      writeFileSync(join(dir.path, 'quickstart.sh'), script);
      const r = spawnSync('bash', [join(dir.path, 'quickstart.sh')], {
        cwd: dir.path,
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...process.env, NO_COLOR: '1', SNAKEPIT_HOME: join(dir.path, 'home'), SNAKEPIT_CONFIG_DIR: join(dir.path, 'config'), SNAKEPIT_PYTHON: PYTHON },
      });
      expect(r.status, `${r.stderr}\n${r.stdout}`).toBe(0);
      expect(r.stdout).toContain('3\n'); // exec add a=1 b=2
      expect(r.stdout).toMatch(/Hello, Ada!/);
    } finally {
      for (const home of ['home']) spawnSync(process.execPath, [CLI, 'down', '--home', join(dir.path, home)], { env: { ...process.env, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') } });
      dir.cleanup();
    }
  }, 150_000);
});
