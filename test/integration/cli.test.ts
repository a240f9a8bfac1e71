// The CLI against a real detached daemon: up, second up, exec (text, --json, --stream), tools,
// stats, exit codes, down leaving nothing behind, and a stale pid file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, PYTHON, killPids, pidAlive, runCli, tempDir, waitFor } from '../helpers/env.js';

const dir = tempDir('sp-cli-');
const home = join(dir.path, 'home');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };
const cli = (...args: string[]) => runCli([...args, '--home', home], { env });
let started: { pid: number; workerPids: number[] } | undefined;

function agentInfo(): { pid: number; workerPids: number[]; runId: string } {
  return JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8')) as { pid: number; workerPids: number[]; runId: string };
}

beforeAll(async () => {
  const up = await cli('up', '--workers', '2', '--json');
  expect(up.code, up.stderr).toBe(0);
  // Progress (each worker becoming ready) goes to stderr; stdout holds only the JSON document.
  expect(up.stderr).toMatch(/worker default-[01] ready \(pid \d+, \d+ ms\) — 1\/2/);
  expect(up.stderr).toMatch(/— 2\/2/);
  const doc = JSON.parse(up.stdout) as { ok: boolean; pid: number; address: string; workers: number; runId: string };
  expect(doc).toMatchObject({ ok: true, workers: 2, address: `unix:${join(home, 'agent.sock')}` });
  started = { pid: doc.pid, workerPids: agentInfo().workerPids };
});

afterAll(async () => {
  await cli('down');
  if (started) killPids([started.pid, ...started.workerPids].filter(pidAlive));
  dir.cleanup();
});

describe('snakepit CLI with a running agent', () => {
  it('keeps state private: socket and home are owner-only', () => {
    expect(statSync(join(home, 'agent.sock')).mode & 0o777).toBe(0o600);
    expect(statSync(home).mode & 0o777).toBe(0o700);
    expect(existsSync(join(home, 'agent.pid'))).toBe(true);
    expect(existsSync(join(home, 'logs', 'agent.log'))).toBe(true);
  });

  it('a second up says so and exits 0 without starting another agent', async () => {
    const again = await cli('up', '--workers', '2', '--json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ ok: true, alreadyRunning: true, pid: started!.pid });
    const text = await cli('up', '--workers', '2');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/already running/);
    expect(agentInfo().pid).toBe(started!.pid);
  });

  it('a second up with other settings fails with ALREADY_RUNNING naming each difference; --replace drains the agent and starts the new one', async () => {
    const other = join(dir.path, 'other');
    const on = (...args: string[]) => runCli([...args, '--home', other], { env });
    expect((await on('up', '--workers', '1', '--json')).code).toBe(0);
    const first = JSON.parse(readFileSync(join(other, 'agent.json'), 'utf8')) as { pid: number; workerPids: number[] };
    try {
      expect((await on('up', '--workers', '1')).stdout).toMatch(/already running .* nothing to do/); // the same: as before
      const clash = await on('up', '--workers', '2', '--tools', join(FIXTURES, 'kinds_tools.py'), '--json');
      expect(clash.code).toBe(1);
      const { code, message } = JSON.parse(clash.stdout).error as { code: string; message: string };
      expect(code).toBe('ALREADY_RUNNING');
      expect(message).toContain('  - pool default: workers 1 running, 2 asked\n');
      expect(message).toContain(`  - pool default: tools snakepit.demo (built-in) running, ${join(FIXTURES, 'kinds_tools.py')} asked\n`);
      expect(message).toContain(`fix: \`snakepit up --replace --home ${other}\``);
      expect(pidAlive(first.pid)).toBe(true); // refused: nothing was touched
      const replaced = await on('up', '--workers', '2', '--replace', '--json');
      expect(replaced.code, replaced.stderr).toBe(0);
      const doc = JSON.parse(replaced.stdout) as { pid: number; workers: number };
      expect(doc.workers).toBe(2);
      expect(doc.pid).not.toBe(first.pid);
      await waitFor(() => !pidAlive(first.pid), 5_000);
      for (const w of first.workerPids) await waitFor(() => !pidAlive(w), 5_000);
    } finally {
      await on('down');
      killPids(first.workerPids.concat(first.pid).filter(pidAlive));
    }
  });

  it('exec prints results as text and as one JSON document', async () => {
    const plain = await cli('exec', 'add', 'a=1', 'b=2');
    expect(plain).toMatchObject({ code: 0, stdout: '3\n' });
    const json = await cli('exec', 'greet', '{"name": "Zoë", "excited": true}', '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ ok: true, result: expect.stringContaining('Zoë') });
    const nested = await cli('exec', 'echo', 'value:={"a":[1,{"b":"🐍"}]}', '--json');
    expect(JSON.parse(nested.stdout)).toEqual({ ok: true, result: { a: [1, { b: '🐍' }] } });
    // k=v is text for an unannotated parameter (HTTPie); k:= is JSON.
    expect(JSON.parse((await cli('exec', 'echo', 'value=[1]', '--json')).stdout)).toEqual({ ok: true, result: '[1]' });
    const str = await cli('exec', 'echo', 'value=plain text');
    expect(str.stdout).toBe('plain text\n');
  });

  it('exec --stream prints chunks as they come; with --json one line per chunk then a final line', async () => {
    const text = await cli('exec', 'tokens', 'text=a b', '--stream');
    expect(text.code).toBe(0);
    expect(text.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([
      { token: 'a', index: 0 },
      { token: 'b', index: 1 },
    ]);
    const json = await cli('exec', 'tokens', 'text=x y z', '--stream', '--json');
    const lines = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toEqual({ chunk: { token: 'x', index: 0 } });
    expect(lines[3]).toEqual({ ok: true, chunks: 3 });
  });

  it('exec --session keeps state on one worker', async () => {
    const a = await cli('exec', 'counter', '--session', 'cli-s', '--json');
    const b = await cli('exec', 'counter', 'step=5', '--session', 'cli-s', '--json');
    expect(JSON.parse(a.stdout).result).toBe(1);
    expect(JSON.parse(b.stdout).result).toBe(6);
  });

  it('a failed call exits 1: the Python type, message and traceback on stderr', async () => {
    const r = await cli('exec', 'fail', 'message=bad thing');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/PYTHON_EXCEPTION/);
    expect(r.stderr).toMatch(/ValueError: bad thing/);
    expect(r.stderr).toMatch(/Traceback \(most recent call last\)/);
    const json = await cli('exec', 'fail', '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'PYTHON_EXCEPTION', type: 'ValueError', message: 'boom', traceback: expect.stringContaining('Traceback') } });
  });

  it('an unknown tool exits 1 and suggests the nearest names', async () => {
    const r = await cli('exec', 'gret', 'name=x');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/TOOL_NOT_FOUND/);
    expect(r.stderr).toMatch(/did you mean 'greet'/);
  });

  it('bad arguments are caught: invalid key=value exits 2, a wrong type exits 1 naming the parameter', async () => {
    const usage = await cli('exec', 'add', 'a');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/not key=value/);
    const json = await cli('exec', 'add', 'a', '--json');
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'USAGE' } });
    const badType = await cli('exec', 'add', 'a=x', 'b=1', '--json');
    expect(badType.code).toBe(1);
    expect(JSON.parse(badType.stdout).error).toMatchObject({ code: 'INVALID_ARGUMENTS', message: expect.stringContaining("'a'") });
    const badFlag = await cli('exec', 'add', '--timeout', 'soon');
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/--timeout/);
  });

  it('exec --timeout fails with TIMEOUT and exit 1', async () => {
    const r = await cli('exec', 'sleep', 'seconds=5', '--timeout', '300', '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe('TIMEOUT');
  });

  it('exec arguments follow the signature: text converted to the declared type, := for JSON, @ for files and stdin', async () => {
    expect((await cli('exec', 'greet', 'name=123')).stdout).toBe('Hello, 123.\n'); // a str stays text (was: expected string, got integer)
    expect((await cli('exec', 'greet', 'name=Ada', 'excited=true')).stdout).toBe('Hello, Ada!\n');
    expect((await cli('exec', 'optional', 'x=null')).stdout).toBe('n=None\n');
    expect(JSON.parse((await cli('exec', 'stats', 'values=[1,2,3]', '--json')).stdout).result).toMatchObject({ count: 3, mean: 2 });
    const bad = await cli('exec', 'add', 'a=x', 'b=1', '--json');
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).error).toMatchObject({ code: 'INVALID_ARGUMENTS', message: `parameter 'a' is integer: "x" is not one; write a=12, or a:=JSON for any JSON value` });
    const file = join(dir.path, 'in.bin');
    writeFileSync(file, Buffer.from([1, 2, 255]));
    const reversed = await cli('exec', 'reverse_bytes', `data@${file}`);
    expect(Buffer.from(reversed.stdout, 'latin1').length).toBeGreaterThan(0);
    const { execFileSync } = await import('node:child_process');
    const { CLI } = await import('../helpers/env.js');
    const viaStdin = execFileSync(process.execPath, [CLI, 'exec', 'add', '-', '--home', home], { input: '{"a": 5, "b": 6}', env: { ...process.env, ...env }, encoding: 'utf8' });
    expect(viaStdin).toBe('11\n');
    const bytesOut = execFileSync(process.execPath, [CLI, 'exec', 'reverse_bytes', 'data@-', '--home', home], { input: Buffer.from([1, 2, 255]), env: { ...process.env, ...env } });
    expect([...bytesOut]).toEqual([255, 2, 1]);
  });

  it('bytes from the shell and back: --out FILE writes a bytes result raw, and the {"$base64"} that --json prints is accepted as input', async () => {
    const out = join(dir.path, 'out.bin');
    const r = await cli('exec', 'reverse_bytes', 'data:={"$base64": "AQL/"}', '--out', out, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ok: true, out, bytes: 3 });
    expect([...readFileSync(out)]).toEqual([255, 2, 1]);
    // What --json prints for bytes goes back in as it is.
    const printed = JSON.parse((await cli('exec', 'reverse_bytes', 'data:={"$base64": "AQL/"}', '--json')).stdout).result;
    expect(printed).toEqual({ $base64: '/wIB' });
    await cli('exec', 'reverse_bytes', `data:=${JSON.stringify(printed)}`, '--out', out);
    expect([...readFileSync(out)]).toEqual([1, 2, 255]);
  });

  it('exec --timeout takes units (500ms, 0.3s, 2m), and says which forms it takes', async () => {
    const short = await cli('exec', 'sleep', 'seconds=5', '--timeout', '0.3s', '--json');
    expect(JSON.parse(short.stdout).error.code).toBe('TIMEOUT');
    expect((await cli('exec', 'add', 'a=1', 'b=2', '--timeout', '2m')).stdout).toBe('3\n');
    expect((await cli('exec', 'add', 'a=1', 'b=2', '--timeout', '500ms')).stdout).toBe('3\n');
    const bad = await cli('exec', 'add', 'a=1', 'b=2', '--timeout', '5x');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--timeout expects a duration such as 500ms, 5s, 2m or 1h/);
  });

  it('Ctrl-C on exec cancels the call on its worker and exits 130', async () => {
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('../helpers/env.js');
    const child = spawn(process.execPath, [CLI, 'exec', 'sleep', 'seconds=20', '--home', home], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      // Interrupted once the call runs on a worker (the agent counts it in flight).
      await waitFor(async () => (JSON.parse((await cli('stats', '--json')).stdout) as { calls: { inFlight: number } }).calls.inFlight === 1, 15_000);
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(stderr).toMatch(/interrupted: the call to 'sleep' was cancelled/);
      await waitFor(async () => (JSON.parse((await cli('stats', '--json')).stdout) as { calls: { inFlight: number } }).calls.inFlight === 0, 5_000);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('answers to the names PM2 and systemd users type: status, start, stop, restart', async () => {
    const status = await cli('status', '--json');
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ agent: { pid: agentInfo().pid } });
    const start = await cli('start', '--workers', '2', '--json');
    expect(start.code, start.stderr).toBe(0);
    expect(JSON.parse(start.stdout)).toMatchObject({ ok: true, alreadyRunning: true });
    const restart = await cli('restart', '--json');
    expect(restart.code, restart.stderr).toBe(0);
    expect(JSON.parse(restart.stdout)).toMatchObject({ ok: true, replaced: 2 });
    const help = await runCli(['--help']);
    expect(help.stdout).toMatch(/stop\b/);
  });

  it('tools --json lists the tools with their parameters', async () => {
    const r = await cli('tools', '--json');
    expect(r.code).toBe(0);
    const { tools } = JSON.parse(r.stdout) as { tools: Array<{ name: string; doc: string; stream: boolean; params: unknown[] }> };
    const greet = tools.find((t) => t.name === 'greet')!;
    expect(greet.params).toEqual([
      { name: 'name', type: 'string', required: true, default: null },
      { name: 'excited', type: 'boolean', required: false, default: false },
    ]);
    expect(tools.find((t) => t.name === 'tokens')!.stream).toBe(true);
    const text = await cli('tools');
    expect(text.stdout).toMatch(/add\(a: integer, b: integer\)/);
  });

  it('stats --json has the documented shape', async () => {
    const r = await cli('stats', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.agent).toMatchObject({ pid: started!.pid, version: expect.any(String), runId: expect.any(String), uptimeMs: expect.any(Number) });
    expect(s.workers).toHaveLength(2);
    for (const w of s.workers) expect(Object.keys(w)).toEqual(expect.arrayContaining(['id', 'pid', 'state', 'requests', 'rssBytes', 'uptimeMs', 'restarts']));
    expect(s.queue).toEqual({ depth: 0 });
    expect(s.calls.completed).toBeGreaterThan(0);
    expect(s.latencyMs).toEqual({ p50: expect.any(Number), p99: expect.any(Number) });
    const text = await cli('stats');
    expect(text.stdout).toMatch(/WORKER\s+PID\s+STATE/);
  });

  it('warns once on stderr when the running agent has another version, and still works', async () => {
    const file = join(home, 'agent.json');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(original), version: '0.0.1-old' }));
    try {
      const r = await cli('exec', 'add', 'a=1', 'b=2');
      expect(r.stdout).toBe('3\n');
      expect(r.stderr.match(/running agent is 0\.0\.1-old/g)).toHaveLength(1);
      const json = await cli('stats', '--json');
      expect(JSON.parse(json.stdout).agent.pid).toBe(started!.pid);
      expect(json.stderr).toMatch(/restart it to match/);
    } finally {
      writeFileSync(file, original);
    }
    expect((await cli('exec', 'add', 'a=1', 'b=2')).stderr).toBe('');
  });

  it('help works and has examples', async () => {
    const r = await runCli(['exec', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/snakepit exec add a=1 b=2/);
  });
});

describe('without an agent', () => {
  const other = join(dir.path, 'empty-home');

  it('client commands exit 3 and say how to start one', async () => {
    for (const args of [['exec', 'add', 'a=1', 'b=2'], ['tools'], ['stats']]) {
      const r = await runCli([...args, '--home', other], { env });
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.stderr).toMatch(/snakepit up/);
    }
    const json = await runCli(['exec', 'add', '--home', other, '--json'], { env });
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'AGENT_UNAVAILABLE' } });
  });

  it('down with nothing running succeeds and says so', async () => {
    const r = await runCli(['down', '--home', other, '--json'], { env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ok: true, stopped: false });
  });
});

describe('lifecycle', () => {
  it('down stops the agent and every worker, leaving no process of that home', async () => {
    const info = agentInfo();
    const r = await cli('down', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ok: true, stopped: true, pid: info.pid });
    expect(pidAlive(info.pid)).toBe(false);
    for (const pid of info.workerPids) expect(pidAlive(pid)).toBe(false);
    expect(existsSync(join(home, 'agent.sock'))).toBe(false);
    expect(existsSync(join(home, 'agent.pid'))).toBe(false);
    started = undefined;
  });

  it('a stale pid file of a dead agent is detected and replaced', async () => {
    // A pid that is certainly not an agent of this home: a process that exited already.
    writeFileSync(join(home, 'agent.pid'), '999999 12345\n');
    writeFileSync(join(home, 'agent.json'), JSON.stringify({ pid: 999999, startTime: 12345, workerPids: [] }));
    const up = await cli('up', '--workers', '1', '--json');
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toMatch(/stale/);
    const doc = JSON.parse(up.stdout) as { pid: number };
    expect(doc.pid).not.toBe(999999);
    started = { pid: doc.pid, workerPids: agentInfo().workerPids };
    expect((await cli('exec', 'add', 'a=2', 'b=3')).stdout).toBe('5\n');
    const down = await cli('down');
    expect(down.code).toBe(0);
    await waitFor(() => !pidAlive(doc.pid));
    started = undefined;
  });

  it('up with a broken tools module fails with the worker traceback and leaves nothing running', async () => {
    const r = await cli('up', '--workers', '1', '--tools', join(FIXTURES, 'broken_tools.py'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/this module is broken on purpose/);
    expect(existsSync(join(home, 'agent.pid'))).toBe(false);
    const stats = await cli('stats');
    expect(stats.code).toBe(3);
  });

  it('--foreground serves until SIGINT, then stops its workers', async () => {
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('../helpers/env.js');
    const fg = spawn(process.execPath, [CLI, 'up', '--foreground', '--workers', '1', '--home', home, '--json'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        fg.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(out.split('\n')[0]!);
        });
        fg.once('exit', (code) => reject(new Error(`foreground agent exited early with ${code}`)));
      });
      expect(JSON.parse(line)).toMatchObject({ ok: true, workers: 1 });
      const info = agentInfo();
      expect((await cli('exec', 'add', 'a=1', 'b=1')).stdout).toBe('2\n');
      const exited = new Promise<number | null>((r) => fg.once('exit', (code) => r(code)));
      fg.kill('SIGINT');
      expect(await exited).toBe(0);
      for (const pid of info.workerPids) expect(pidAlive(pid)).toBe(false);
    } finally {
      if (fg.exitCode === null) fg.kill('SIGKILL');
    }
  });
});
