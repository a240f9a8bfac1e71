// The home is trusted only as ssh's StrictModes trusts ~/.ssh: it, and every file in it, must
// belong to us and be writable by nobody else, and it must not be a symlink. `up`, `down` and
// `doctor cleanup` refuse anything else with HOME_UNSAFE, naming the path, its owner and the fix,
// and change nothing (no chmod of a directory they did not create). A pid file naming a live,
// unrelated process proves nothing: `down` leaves it alone and `up` starts normally.
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processStartTime } from '../../src/proc.js';
import { PYTHON, pidAlive, runCli as runCliIn, tempDir } from '../helpers/env.js';
import { NOBODY, Recorded, decoy, processesIn } from './helpers.js';

const dir = tempDir('sp-trust-');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };
// Every CLI runs from here, so whatever an agent it started left running is found by its cwd.
const cwd = join(dir.path, 'cwd');
mkdirSync(cwd);
const runCli = (args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}) => runCliIn(args, { ...opts, cwd });
const recorded = new Recorded();

afterAll(async () => {
  await runCli(['down', '--home', join(dir.path, 'decoyed')], { env });
  recorded.add(...processesIn(cwd));
  recorded.killAll();
  dir.cleanup();
});

const mode = (p: string): number => statSync(p).mode & 0o7777;

describe('a home that is not ours', () => {
  const foreign = join(dir.path, 'foreign');
  mkdirSync(foreign, { mode: 0o755 });
  chmodSync(foreign, 0o755);
  chownSync(foreign, NOBODY, NOBODY);

  it.each([['up', '--workers', '1'], ['down'], ['doctor', 'cleanup']])('%s refuses it, naming path, owner and fix, and changes nothing', async (...cmd) => {
    const r = await runCli([...cmd, '--home', foreign, '--json'], { env });
    expect(r.code).not.toBe(0);
    const err = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
    expect(err.code).toBe('HOME_UNSAFE');
    expect(err.message).toContain(foreign);
    expect(err.message).toContain(`uid ${NOBODY} (nobody)`);
    expect(err.message).toMatch(/Fix: .*--home DIR/);
    expect(mode(foreign)).toBe(0o755); // never chmod'ed to 0700 behind its owner's back
    expect(statSync(foreign).uid).toBe(NOBODY);
    expect(readdirSync(foreign)).toEqual([]);
  });

  it('doctor reports it as a failed home check with the fix', async () => {
    const r = await runCli(['doctor', '--home', foreign, '--json'], { env });
    expect(r.code).toBe(1);
    const home = (JSON.parse(r.stdout) as { checks: Array<{ name: string; ok: boolean; detail: string; fix?: string }> }).checks.find((c) => c.name === 'home')!;
    expect(home).toMatchObject({ ok: false, fix: expect.stringContaining('--home DIR') });
    expect(home.detail).toContain(`uid ${NOBODY} (nobody)`);
  });

  it('a symlinked home is refused, and nothing is made behind the link', async () => {
    const real = join(dir.path, 'real');
    mkdirSync(real, { mode: 0o700 });
    const link = join(dir.path, 'link');
    symlinkSync(real, link);
    for (const cmd of [['up', '--workers', '1'], ['doctor', 'cleanup'], ['down']]) {
      const r = await runCli([...cmd, '--home', link, '--json'], { env });
      expect(r.code, cmd.join(' ')).not.toBe(0);
      const err = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
      expect(err).toMatchObject({ code: 'HOME_UNSAFE', message: expect.stringContaining(`${link} is a symbolic link (to ${real})`) });
    }
    expect(readdirSync(real)).toEqual([]);
  });

  it('a home writable by others, or holding a file of another user, is refused', async () => {
    const loose = join(dir.path, 'loose');
    mkdirSync(loose);
    chmodSync(loose, 0o777);
    const r = await runCli(['up', '--workers', '1', '--home', loose], { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/HOME_UNSAFE|writable by others/);
    expect(r.stderr).toContain(`chmod go-w ${loose}`);
    expect(mode(loose)).toBe(0o777);
    expect(readdirSync(loose)).toEqual([]);

    const planted = join(dir.path, 'planted');
    mkdirSync(planted, { mode: 0o700 });
    writeFileSync(join(planted, 'registry.json'), '{"version":1,"runs":{}}\n');
    chownSync(join(planted, 'registry.json'), NOBODY, NOBODY);
    const c = await runCli(['doctor', 'cleanup', '--home', planted, '--json'], { env });
    expect(c.code).not.toBe(0);
    expect((JSON.parse(c.stdout) as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'HOME_UNSAFE',
      message: expect.stringContaining(`${join(planted, 'registry.json')} is owned by uid ${NOBODY} (nobody)`),
    });
  });
});

describe('a home under a directory of another user', () => {
  it('is refused before anything is made there', async () => {
    const parent = join(dir.path, 'theirs');
    mkdirSync(parent, { mode: 0o755 });
    chmodSync(parent, 0o755);
    chownSync(parent, NOBODY, NOBODY);
    const r = await runCli(['up', '--workers', '1', '--home', join(parent, 'h'), '--json'], { env });
    expect(r.code).not.toBe(0);
    expect((JSON.parse(r.stdout) as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'HOME_UNSAFE',
      message: expect.stringContaining(`${parent}, a parent of home ${join(parent, 'h')}, is owned by uid ${NOBODY} (nobody)`),
    });
    expect(readdirSync(parent)).toEqual([]);
  });
});

describe('agent.pid naming a live, unrelated process', () => {
  const home = join(dir.path, 'decoyed');

  it('down does not signal it; up does not wait for it and starts an agent', async () => {
    mkdirSync(home, { mode: 0o700 });
    const victim = await decoy(recorded);
    writeFileSync(join(home, 'agent.pid'), `${victim.pid} ${victim.startTime}\n`, { mode: 0o600 });

    const down = await runCli(['down', '--home', home, '--json'], { env, timeoutMs: 15_000 });
    expect(down.code, down.stderr).toBe(0);
    expect(JSON.parse(down.stdout)).toMatchObject({ ok: true, stopped: false });
    expect(pidAlive(victim.pid)).toBe(true);
    expect(processStartTime(victim.pid)).toBe(victim.startTime);

    writeFileSync(join(home, 'agent.pid'), `${victim.pid} ${victim.startTime}\n`, { mode: 0o600 });
    const up = await runCli(['up', '--workers', '1', '--home', home, '--json'], { env, timeoutMs: 30_000 });
    expect(up.code, up.stderr).toBe(0);
    const started = JSON.parse(up.stdout) as { pid: number; alreadyRunning?: boolean };
    expect(started.alreadyRunning).toBeUndefined();
    recorded.add(started.pid);
    expect(started.pid).not.toBe(victim.pid);
    expect(pidAlive(victim.pid)).toBe(true);

    const stop = await runCli(['down', '--home', home, '--json'], { env });
    expect(JSON.parse(stop.stdout)).toMatchObject({ stopped: true, pid: started.pid });
    expect(pidAlive(victim.pid)).toBe(true);
    expect(existsSync(join(home, 'agent.pid'))).toBe(false);
  });
});
