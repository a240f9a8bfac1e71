// Secrets never travel in argv: a pool's `env` (API keys) reaches the workers, but the detached
// daemon's command line (what any user reads in /proc/PID/cmdline, before and after it renames
// itself) and the home's files never contain it. The daemon's argv is captured at its very first
// line by a preload (SNAKEPIT_DAEMON_NODE_FLAGS=--require …), since process.title later hides it.
import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, PYTHON, runCli, tempDir } from '../helpers/env.js';
import { Recorded, procCmdline } from './helpers.js';

const dir = tempDir('sp-sec-');
const home = join(dir.path, 'h');
const project = join(dir.path, 'p');
const spyOut = join(dir.path, 'argv.json');
const spy = join(dir.path, 'argv-spy.cjs');
const SECRET = `sk-${randomBytes(12).toString('hex')}`;
const env = {
  SNAKEPIT_PYTHON: PYTHON,
  SNAKEPIT_CONFIG_DIR: join(dir.path, 'config'),
  SNAKEPIT_DAEMON_NODE_FLAGS: `--max-semi-space-size=1 --require ${spy}`,
  SP_ARGV_SPY: spyOut,
};
const recorded = new Recorded();

afterAll(async () => {
  await runCli(['down', '--home', home], { env });
  recorded.killAll();
  dir.cleanup();
});

/** Every file under `root`, recursively. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(root, e.name)) : e.isFile() ? [join(root, e.name)] : []));
}

describe('a pool env secret', () => {
  it('reaches the workers but never the daemon’s argv, /proc cmdline or the home’s files', async () => {
    mkdirSync(project);
    writeFileSync(spy, `require('fs').writeFileSync(process.env.SP_ARGV_SPY, JSON.stringify(process.argv));\n`);
    writeFileSync(join(project, 'snakepit.config.json'), JSON.stringify({ pools: { default: { tools: join(FIXTURES, 'trust_tools.py'), size: 1, env: { API_KEY: SECRET } } } }));

    const up = await runCli(['up', '--home', home, '--json'], { env, cwd: project });
    expect(up.code, up.stderr).toBe(0);
    const { pid } = JSON.parse(up.stdout) as { pid: number };
    recorded.add(pid);

    const argv = JSON.parse(readFileSync(spyOut, 'utf8')) as string[];
    expect(argv.some((a) => /daemon(-fast)?\/main\.js$/.test(a))).toBe(true); // the spy ran in the daemon
    expect(argv.join(' ')).not.toContain(SECRET); // on the old code: argv[2] is the options JSON
    expect(procCmdline(pid).join(' ')).not.toContain(SECRET);

    const got = await runCli(['exec', 'env_length', 'name=API_KEY', '--home', home], { env });
    expect(got.stdout.trim()).toBe(String(SECRET.length));
    const stats = await runCli(['stats', '--json', '--home', home], { env });
    expect(stats.stdout).not.toContain(SECRET);

    for (const f of filesUnder(home)) expect(readFileSync(f, 'utf8'), f).not.toContain(SECRET);
    expect(existsSync(join(home, 'logs', 'agent.log'))).toBe(true);
    expect(statSync(join(home, 'agent.json')).mode & 0o077).toBe(0);
  });
});
