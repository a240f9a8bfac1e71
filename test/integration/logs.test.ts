// `snakepit logs` and the daemon's JSON log file, against real detached daemons: the records'
// fields, what tools print and log (with worker id and stream), --worker, --lines, --json,
// --follow (until SIGINT, exit 0), size rotation (SNAKEPIT_LOG_MAX_BYTES), and homes without an
// agent (non-JSON lines, no log at all).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, FIXTURES, PYTHON, killPids, pidAlive, runCli, tempDir, waitFor } from '../helpers/env.js';

const dir = tempDir('sp-logs-');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };
const started: number[] = [];

interface Record {
  time: string;
  level: string;
  pid: number;
  src: string;
  stream?: string;
  callId?: number;
  logger?: string;
  msg: string;
}

function homeCli(home: string, extraEnv: { [k: string]: string } = {}) {
  return (...args: string[]) => runCli([...args, '--home', home], { env: { ...env, ...extraEnv } });
}

async function startAgent(home: string, workers: number, extraEnv: { [k: string]: string } = {}): Promise<number> {
  const up = await homeCli(home, extraEnv)('up', '--workers', String(workers), '--json');
  expect(up.code, up.stderr).toBe(0);
  const info = JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8')) as { pid: number; workerPids: number[] };
  started.push(info.pid, ...info.workerPids);
  return info.pid;
}

function records(home: string, file = 'agent.log'): Record[] {
  return readFileSync(join(home, 'logs', file), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record);
}

/** Runs `logs --follow` and collects its stdout. */
function followLogs(home: string, ...args: string[]): { child: ChildProcess; out: () => string; exit: Promise<number | null> } {
  const e: { [k: string]: string } = { ...(process.env as { [k: string]: string }), ...env, NO_COLOR: '1' };
  delete e.SNAKEPIT_HOME;
  const child = spawn(process.execPath, [CLI, 'logs', '--follow', '--home', home, ...args], { env: e, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child.pid!);
  let text = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (text += d));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out: () => text, exit };
}

afterAll(async () => {
  for (const home of ['main', 'small', 'fg', 'pylog'].map((h) => join(dir.path, h))) {
    if (existsSync(join(home, 'agent.json'))) await homeCli(home)('down');
  }
  killPids(started.filter(pidAlive));
  dir.cleanup();
});

describe('snakepit logs with a running agent', () => {
  const home = join(dir.path, 'main');
  const cli = homeCli(home);
  let agentPid = 0;
  let noisyWorker = '';

  beforeAll(async () => {
    agentPid = await startAgent(home, 2);
    const r = await cli('exec', 'noisy');
    expect(r.code, r.stderr).toBe(0);
    await waitFor(() => records(home).some((r) => r.stream === 'log' && r.logger === 'snakepit.tool.noisy'));
    noisyWorker = records(home).find((r) => r.stream === 'stdout')!.src;
  });

  it('writes JSON lines with time, level, pid, src and msg; worker output and log records are structured', () => {
    const all = records(home);
    expect(all.length).toBeGreaterThan(5);
    for (const r of all) {
      expect(new Date(r.time).toISOString()).toBe(r.time);
      expect(['debug', 'info', 'warn', 'error']).toContain(r.level);
      expect(r.pid).toBe(agentPid);
      expect(typeof r.src).toBe('string');
      expect(typeof r.msg).toBe('string');
    }
    expect(all).toContainEqual(expect.objectContaining({ src: 'daemon', msg: expect.stringMatching(/^listening on unix:/) }));
    expect(noisyWorker).toMatch(/^default-[01]$/);
    expect(all).toContainEqual(expect.objectContaining({ level: 'info', src: noisyWorker, stream: 'stdout', msg: 'noisy: a line on stdout' }));
    expect(all).toContainEqual(expect.objectContaining({ level: 'warn', src: noisyWorker, stream: 'stderr', msg: 'noisy: a line on stderr' }));
    const rec = all.find((r) => r.stream === 'log')!;
    expect(rec).toMatchObject({ level: 'info', src: noisyWorker, logger: 'snakepit.tool.noisy', callId: expect.any(Number) });
    expect(rec.msg).toBe(`noisy: a log record for call ${rec.callId}`);
  });

  it('prints the last lines as text with time, level, worker id and stream', async () => {
    const r = await cli('logs');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO  \\[${noisyWorker} stdout\\] noisy: a line on stdout$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} WARN  \\[${noisyWorker} stderr\\] noisy: a line on stderr$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`\\[${noisyWorker} call \\d+\\] snakepit\\.tool\\.noisy: noisy: a log record for call \\d+$`, 'm'));
    expect(r.stdout).toMatch(/ INFO {2}\[daemon\] listening on unix:/);
  });

  it('--worker keeps one worker, --lines limits, --json prints the records as JSON lines', async () => {
    const other = noisyWorker === 'default-0' ? 'default-1' : 'default-0';
    const mine = await cli('logs', '--worker', noisyWorker, '--lines', '1000');
    const lines = mine.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThan(3);
    for (const l of lines) expect(l).toMatch(new RegExp(`\\[${noisyWorker}[ \\]]`));
    expect(mine.stdout).toMatch(/noisy: a line on stdout/);
    const theirs = await cli('logs', '--worker', other);
    expect(theirs.stdout).toMatch(/ready \(pid/);
    expect(theirs.stdout).not.toMatch(/noisy/);

    // A worker the log has never heard of is refused, naming the ones it has.
    const typo = await cli('logs', '--worker', 'default-9');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/no worker 'default-9' in the log of .*its workers: default-0, default-1/);
    expect(typo.stderr).toMatch(/did you mean 'default-0' or 'default-1'\?/);
    const typoJson = await cli('logs', '--worker', 'nosuch', '--json');
    expect(typoJson.code).toBe(2);
    expect(JSON.parse(typoJson.stdout)).toMatchObject({ ok: false, error: { code: 'USAGE' } });
    expect((await cli('logs', '--worker', 'agent', '--lines', '1')).code).toBe(0);

    const all = (await cli('logs', '--lines', '1000')).stdout.trim().split('\n');
    const three = await cli('logs', '--lines', '3');
    expect(three.stdout.trim().split('\n')).toEqual(all.slice(-3));

    const json = await cli('logs', '--json', '--lines', '4');
    expect(json.code).toBe(0);
    const raw = readFileSync(join(home, 'logs', 'agent.log'), 'utf8').trim().split('\n');
    expect(json.stdout.trim().split('\n')).toEqual(raw.slice(-4));
    for (const l of json.stdout.trim().split('\n')) expect(JSON.parse(l)).toMatchObject({ src: expect.any(String), msg: expect.any(String) });

    const bad = await cli('logs', '--lines', '0');
    expect(bad.code).toBe(2);
  });

  it('--follow prints new lines as they are written and exits 0 on SIGINT', async () => {
    const f = followLogs(home, '--worker', noisyWorker);
    await waitFor(() => f.out().includes('noisy: a line on stdout'));
    const seen = new Set([...f.out().matchAll(/a log record for call (\d+)/g)].map((m) => m[1]));
    // Calls go to either worker: repeat until one lands on the followed worker.
    await waitFor(async () => {
      await cli('exec', 'noisy');
      return [...f.out().matchAll(/a log record for call (\d+)/g)].some((m) => !seen.has(m[1]));
    }, 20_000, 200);
    f.child.kill('SIGINT');
    expect(await f.exit).toBe(0);
  });
});

describe('log rotation', () => {
  const home = join(dir.path, 'small');
  const cli = homeCli(home);

  it('rotates at SNAKEPIT_LOG_MAX_BYTES into agent.log.1; logs and --follow keep up', async () => {
    await startAgent(home, 1, { SNAKEPIT_LOG_MAX_BYTES: '4096' });
    const f = followLogs(home);
    await waitFor(() => f.out().includes('listening on'));
    let calls = 0;
    while (!existsSync(join(home, 'logs', 'agent.log.1')) || calls < 10) {
      const r = await cli('exec', 'noisy');
      expect(r.code, r.stderr).toBe(0);
      calls++;
      expect(calls).toBeLessThan(100);
    }
    expect(statSync(join(home, 'logs', 'agent.log')).size).toBeLessThanOrEqual(4096);
    expect(statSync(join(home, 'logs', 'agent.log.1')).size).toBeLessThanOrEqual(4096);
    const marker = await cli('exec', 'noisy');
    expect(marker.code).toBe(0);
    const last = records(home).filter((r) => r.stream === 'log').at(-1)!;
    const lastLine = `a log record for call ${last.callId}`;
    const tail = await cli('logs', '--lines', '5');
    expect(tail.stdout).toContain(lastLine);
    // Lines from before the rotation are still shown (from agent.log.1).
    const everything = await cli('logs', '--lines', '100000');
    expect(everything.stdout.trim().split('\n').length).toBeGreaterThan(records(home).length);
    // --follow went on in the new file.
    await waitFor(() => f.out().includes(lastLine));
    const followed = [...f.out().matchAll(/a log record for call (\d+)/g)].map((m) => Number(m[1]));
    expect(followed.length).toBe(calls + 1);
    f.child.kill('SIGINT');
    expect(await f.exit).toBe(0);
  });

  it('a bad SNAKEPIT_LOG_MAX_BYTES fails up with CONFIG_INVALID', async () => {
    const other = join(dir.path, 'badlog');
    const r = await homeCli(other, { SNAKEPIT_LOG_MAX_BYTES: 'lots' })('up', '--workers', '1');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/CONFIG_INVALID.*SNAKEPIT_LOG_MAX_BYTES/);
    expect(existsSync(join(other, 'agent.json'))).toBe(false);
  });
});

describe('up --foreground', () => {
  it('prints the log records as text lines on stderr and writes JSON to the file', async () => {
    const home = join(dir.path, 'fg');
    const e: { [k: string]: string } = { ...(process.env as { [k: string]: string }), ...env, NO_COLOR: '1' };
    delete e.SNAKEPIT_HOME;
    const fg = spawn(process.execPath, [CLI, 'up', '--foreground', '--workers', '1', '--home', home], { env: e, stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(fg.pid!);
    let err = '';
    fg.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exit = new Promise<number | null>((resolve) => fg.once('exit', (code) => resolve(code)));
    await waitFor(() => /agent ready/.test(err), 20_000);
    started.push(...(JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8')) as { workerPids: number[] }).workerPids);
    expect(err).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}\[default-0\] ready \(pid \d+/m);
    expect(err).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}\[daemon\] listening on unix:/m);
    expect(err).not.toMatch(/^\{/m);
    fg.kill('SIGINT');
    expect(await exit).toBe(0);
    expect(records(home).map((r) => r.msg)).toEqual(expect.arrayContaining([expect.stringMatching(/^listening on/), 'stopped']));
  });
});

describe('snakepit logs without an agent', () => {
  it('says there are no logs yet and exits 0', async () => {
    const home = join(dir.path, 'empty');
    const r = await homeCli(home)('logs');
    expect(r).toMatchObject({ code: 0, stdout: '' });
    expect(r.stderr).toMatch(/no logs yet for .*empty/);
  });

  it('shows lines that are not JSON as they are, and reads agent.log.1 first', async () => {
    const home = join(dir.path, 'files');
    mkdirSync(join(home, 'logs'), { recursive: true });
    const rec = (msg: string, extra: object = {}) => `${JSON.stringify({ level: 'info', time: '2024-05-06T07:08:09.010Z', pid: 1, src: 'default-0', stream: 'stdout', ...extra, msg })}\n`;
    writeFileSync(join(home, 'logs', 'agent.log.1'), rec('older'));
    writeFileSync(join(home, 'logs', 'agent.log'), rec('newer'));
    appendFileSync(join(home, 'logs', 'agent.log'), 'snakepit daemon crashed: Error: boom\n    at main (file.js:1:1)\n');
    appendFileSync(join(home, 'logs', 'agent.log'), rec('last', { src: 'daemon', stream: undefined, level: 'error' }));
    const cli = homeCli(home);
    const text = await cli('logs');
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^\d\d:\d\d:09\.010 INFO {2}\[default-0 stdout\] older$/);
    expect(lines[1]).toMatch(/\] newer$/);
    expect(lines[2]).toBe('snakepit daemon crashed: Error: boom');
    expect(lines[3]).toBe('    at main (file.js:1:1)');
    expect(lines[4]).toMatch(/ ERROR \[daemon\] last$/);
    const json = await cli('logs', '--json', '--lines', '3');
    expect(json.stdout.trim().split('\n').map((l) => JSON.parse(l) as object)).toEqual([
      { raw: true, msg: 'snakepit daemon crashed: Error: boom' },
      { raw: true, msg: '    at main (file.js:1:1)' },
      expect.objectContaining({ src: 'daemon', msg: 'last' }),
    ]);
    const worker = await cli('logs', '--worker', 'default-0');
    expect(worker.stdout.trim().split('\n')).toHaveLength(2);
  });
});

describe("a tool's own Python logging", () => {
  it('reaches the log with its level and logger, not as [stderr] lines at WARN', async () => {
    const home = join(dir.path, 'pylog');
    const cli = homeCli(home);
    const up = await cli('up', '--workers', '1', '--tools', join(FIXTURES, 'pylogging_tools.py'), '--json');
    expect(up.code, up.stderr).toBe(0);
    const info = JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8')) as { pid: number; workerPids: number[] };
    started.push(info.pid, ...info.workerPids);
    expect((await cli('exec', 'warn_and_fail')).code).toBe(0);
    expect((await cli('exec', 'configured')).code).toBe(0);
    const mine = (): Record[] => records(home).filter((r) => r.src.startsWith('default-0') && /module logger|root logger|not shown|critical from/.test(r.msg));
    await waitFor(() => mine().length >= 3);
    const got = mine().map((r) => ({ level: r.level, stream: r.stream, logger: r.logger, msg: r.msg }));
    expect(got).toEqual([
      { level: 'warn', stream: 'log', logger: 'pylogging_tools', msg: 'module logger: careful 1' },
      { level: 'error', stream: 'log', logger: 'root', msg: 'root logger: oops' },
      { level: 'error', stream: 'log', logger: 'pylogging_tools.sub', msg: 'critical from a child logger' },
    ]);
  });
});
