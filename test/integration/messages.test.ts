// Issue 10, point 8: what a user gets wrong gets a message naming the problem and the fix. Each
// case is what `up` or `setup` printed before: `got null`, "did you mean 'tools'?", an empty
// reason, a SyntaxError for a Python 2, "file not found" without the name that exists.
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileSystemError } from '../../src/files.js';
import { join } from 'node:path';
import { PYTHON, runCli, tempDir } from '../helpers/env.js';

const dir = tempDir('sp-msg-');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };
afterAll(() => dir.cleanup());

/** Runs the CLI; every case here must fail before anything starts. */
async function fails(args: string[], extra: { env?: Record<string, string>; cwd?: string } = {}): Promise<string> {
  const r = await runCli([...args, '--json'], { env: { ...env, ...extra.env }, ...(extra.cwd ? { cwd: extra.cwd } : {}) });
  expect(r.code, r.stdout + r.stderr).toBe(2);
  return (JSON.parse(r.stdout) as { error: { message: string } }).error.message;
}

describe('clear messages for what a user can get wrong', () => {
  it('a non-numeric SNAKEPIT_* setting is quoted as typed, with an example', async () => {
    const msg = await fails(['up', '--home', join(dir.path, 'h1')], { env: { SNAKEPIT_MAX_QUEUE: 'abc' } });
    expect(msg).toBe("invalid setting 'SNAKEPIT_MAX_QUEUE': expected an integer >= 0, got 'abc' (e.g. SNAKEPIT_MAX_QUEUE=10)");
  });

  it('a bad SNAKEPIT_PROC_FACTS fails `up`, and doctor’s process facts check, with the choices', async () => {
    const bad = { SNAKEPIT_PROC_FACTS: 'lsof' };
    const home = join(dir.path, 'h-facts');
    expect(await fails(['up', '--home', home], { env: bad })).toBe("SNAKEPIT_PROC_FACTS=lsof is not a source of process facts; fix: `proc` (Linux's /proc), `ps` or `auto` (/proc on Linux, else ps), or unset it");
    const doctor = await runCli(['doctor', '--json', '--home', home], { env: { ...env, ...bad } });
    expect(doctor.code).toBe(1);
    const checks = (JSON.parse(doctor.stdout) as { checks: Array<{ name: string }> }).checks;
    expect(checks.find((c) => c.name === 'process facts')).toEqual({ name: 'process facts', ok: false, detail: 'SNAKEPIT_PROC_FACTS=lsof is not a source of process facts', fix: expect.stringContaining('`ps`') });
    expect(checks.find((c) => c.name === 'orphans')).toMatchObject({ ok: false, detail: expect.stringMatching(/^not checked: /) });
  });

  it('"pool" in a config file suggests "pools"', async () => {
    const project = join(dir.path, 'p');
    mkdirSync(project);
    writeFileSync(join(project, 'snakepit.config.json'), JSON.stringify({ pool: { default: { size: 1 } } }));
    expect(await fails(['up', '--home', join(dir.path, 'h2')], { cwd: project })).toBe("invalid setting 'pool': unknown setting; did you mean 'pools'?");
  });

  it('--tools without .py names the .py file that exists', async () => {
    const project = join(dir.path, 'q');
    mkdirSync(project);
    writeFileSync(join(project, 'textstats.py'), 'from snakepit import tool\n\n@tool\ndef n() -> int:\n    return 1\n');
    const msg = await fails(['up', '--home', join(dir.path, 'h3'), '--tools', './textstats'], { cwd: project });
    expect(msg).toBe(`invalid setting 'pools.default.tools': file not found: ${join(project, 'textstats')}; did you mean './textstats.py'?`);
  });

  it('--python that is not a Python (prints nothing) and a Python 2 (cannot parse the runtime) say what they are', async () => {
    const notPython = await runCli(['setup', '--python', '/bin/false', '--check'], { env });
    expect(notPython.code).toBe(1);
    expect(notPython.stderr).toMatch(/\/bin\/false \(--python\): exited with code 1 and printed nothing: is it a Python interpreter\?/);
    // Python 2 as the runtime check sees it: a SyntaxError for `-m snakepit`, "2.7" for the version probe.
    const py2 = join(dir.path, 'python2');
    writeFileSync(py2, '#!/bin/sh\ncase "$*" in\n  *"-m snakepit"*) echo \'  File "snakepit/__main__.py", line 1\' >&2; echo "SyntaxError: invalid syntax" >&2; exit 1;;\n  *-c*) printf 2.7;;\nesac\n');
    chmodSync(py2, 0o755);
    const old = await runCli(['setup', '--python', py2, '--check'], { env });
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(/python2 \(--python\): Python 2\.7 is too old \(needs ≥ 3\.9\)/);
    expect(old.stderr).not.toMatch(/SyntaxError/);
  });

  it('router status with no router running says how to start a router, not an agent', async () => {
    const r = await runCli(['router', 'status', '--home', join(dir.path, 'no-router'), '--json'], { env });
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'AGENT_UNAVAILABLE', message: expect.stringContaining('start one with `snakepit router up --registry') });
  });

  it('a pyenv shim with no version selected names the shim, the versions that have it and the fix (not the tip\'s last line)', async () => {
    // What pyenv's shim prints (pyenv 2.x) when the selected version lacks the command.
    const shim = join(dir.path, 'shims', 'python3.6');
    mkdirSync(join(dir.path, 'shims'), { recursive: true });
    writeFileSync(
      shim,
      "#!/bin/sh\ncat >&2 <<'EOF'\npyenv: python3.6: command not found\n\nThe `python3.6' command exists in these Python versions:\n  3.6.15\n\nNote: See 'pyenv help global' for tips on allowing multiple\n      Python versions to be found at the same time.\nEOF\nexit 127\n",
    );
    chmodSync(shim, 0o755);
    const r = await runCli(['setup', '--python', shim, '--check'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/python3\.6 \(--python\): a pyenv shim, and no Python selected for this directory provides 'python3\.6' \(it exists in 3\.6\.15\): choose one with `pyenv local VERSION`/);
    expect(r.stderr).not.toMatch(/found at the same time/);
  });
});

describe('file-system problems name the path, the problem and the fix (no stack trace)', () => {
  it('a home under a regular file: up fails with FILE_ERROR, doctor says the same before', async () => {
    const file = join(dir.path, 'plain-file');
    writeFileSync(file, 'x');
    const home = join(file, 'home');
    const up = await runCli(['up', '--home', home], { env });
    expect(up.code).toBe(2);
    expect(up.stderr).toBe(`error [FILE_ERROR] ${file} is a file where a directory is needed for ${home} (mkdir); move it away or use another path (e.g. --home DIR)\n`);
    const doctor = await runCli(['doctor', '--home', home, '--json'], { env });
    expect(doctor.code).toBe(1);
    const checks = (JSON.parse(doctor.stdout) as { checks: Array<{ name: string; ok: boolean; detail: string; fix?: string }> }).checks;
    expect(checks.find((c) => c.name === 'home')).toEqual({ name: 'home', ok: false, detail: `${file} is a file, so ${home} cannot be created under it`, fix: `move ${file} away, or use another path` });
    expect(checks.map((c) => c.name)).not.toContain('orphans'); // nothing in a home that cannot exist is checked
  });

  it('init into a path that is a file', async () => {
    const file = join(dir.path, 'not-a-dir');
    writeFileSync(file, 'x');
    const r = await runCli(['init', file, '--json'], { env });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error).toEqual({ code: 'FILE_ERROR', message: `${file} already exists and is a file, not a directory (mkdir); remove it, or pick another path` });
  });

  it('the other errors of the file system (as root, permissions cannot be provoked here: the errors are built as Node builds them)', () => {
    const err = (code: string, syscall: string, path: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: ${syscall} '${path}'`), { code, syscall, path, errno: -1 });
    expect(fileSystemError(err('EACCES', 'mkdir', '/srv/ro/home'))?.message).toBe('permission denied on /srv/ro/home (mkdir): it is not writable for you; fix its permissions (e.g. chmod u+rwx /srv/ro) or use another path (e.g. --home DIR)');
    expect(fileSystemError(err('EACCES', 'open', '/srv/h/agent.log'))?.message).toMatch(/not readable for you/);
    expect(fileSystemError(err('EROFS', 'open', '/ro/h/x'))?.message).toBe('/ro/h/x is on a read-only file system (open); use a writable path (e.g. --home DIR)');
    expect(fileSystemError(err('ENOSPC', 'write', '/full/h/x'))?.code).toBe('FILE_ERROR');
    expect(fileSystemError(err('ELOOP', 'stat', '/l/h'))?.message).toMatch(/loop of symbolic links/);
    expect(fileSystemError(err('ECONNREFUSED', 'connect', '/h/agent.sock'))).toBeUndefined(); // not the file system's
    expect(fileSystemError(new Error('plain'))).toBeUndefined();
  });
});
