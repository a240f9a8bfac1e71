// `snakepit init` scaffolds a project that runs with `snakepit up` unchanged, and every example
// call it shows works.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, SnakepitError } from '../../src/index.js';
import { PYTHON, killPids, pidAlive, runCli, tempDir } from '../helpers/env.js';

const dir = tempDir('sp-init-');
const project = join(dir.path, 'my-tools');
const home = join(dir.path, 'h');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'c'), SNAKEPIT_HOME: home };
const recorded: number[] = [];

afterAll(async () => {
  await runCli(['down'], { env, cwd: project });
  killPids(recorded.filter(pidAlive));
  dir.cleanup();
});

describe('snakepit init', () => {
  it('creates the files and refuses to overwrite them without --force', async () => {
    const r = await runCli(['init', project, '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { files: string[]; next: string[] };
    expect(doc.files.sort()).toEqual(['README.md', 'snakepit.config.json', 'tools.py']);
    for (const f of doc.files) expect(existsSync(join(project, f))).toBe(true);
    expect(doc.next).toContain('snakepit up');
    const again = await runCli(['init', project], { env });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already has .*--force/);
    expect((await runCli(['init', project, '--force'], { env })).code).toBe(0);
  });

  it('runs with snakepit up unchanged, and its example calls work', async () => {
    const up = await runCli(['up', '--json'], { env, cwd: project });
    expect(up.code, up.stderr).toBe(0);
    expect(JSON.parse(up.stdout)).toMatchObject({ ok: true, workers: 2 });
    const info = JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8')) as { pid: number; workerPids: number[] };
    recorded.push(info.pid, ...info.workerPids);
    const exec = (...a: string[]) => runCli(['exec', ...a], { env, cwd: project });
    expect((await exec('greet', 'name=Ada', 'excited=true')).stdout).toBe('Hello, Ada!\n');
    expect(JSON.parse((await exec('word_count', 'text=a b a', '--json')).stdout).result).toEqual({ a: 2, b: 1 });
    const stream = await exec('countdown', 'start=3', 'delay=0', '--stream');
    expect(stream.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ n: 3 }, { n: 2 }, { n: 1 }]);
    await exec('remember', 'item=x', '--session', 'me');
    expect(JSON.parse((await exec('remember', 'item=y', '--session', 'me', '--json')).stdout).result).toEqual(['x', 'y']);
    const div = await exec('divide', 'a=1', 'b=0');
    expect(div.code).toBe(1);
    expect(div.stderr).toMatch(/ZeroDivisionError/);
    const neg = await exec('checked_sqrt', 'x=-1', '--json');
    expect(JSON.parse(neg.stdout).error).toMatchObject({ code: 'NEGATIVE_INPUT' });
    expect((await exec('checked_sqrt', 'x=-1')).stderr).toMatch(/^error \[NEGATIVE_INPUT\] x must be >= 0/);
    // From Node, `code` stays a catalog code (TOOL_ERROR); the tool's own code is `toolCode`.
    const client = connect({ home });
    try {
      const err = await client.execute('checked_sqrt', { x: -1 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SnakepitError);
      expect(err).toMatchObject({ code: 'TOOL_ERROR', toolCode: 'NEGATIVE_INPUT' });
    } finally {
      client.close();
    }
    // The README the project ships shows only calls that work.
    const readme = readFileSync(join(project, 'README.md'), 'utf8');
    expect(readme).toMatch(/snakepit exec greet name=Ada excited=true/);
  });
});
