// `snakepit cluster demo` for real, through the built CLI (npm run build first): a router and 3
// agents in a temporary home, a mixed load, one agent SIGKILLed midway. No call may be lost or
// fail, the router must see the kill within a second, and nothing may be left: no process of the
// demo (every pid it reports, and anything whose cwd, command line or open files point into its
// home) and no home. Also --no-kill with text output, the progress lines on stderr when stdout
// is not a terminal, Ctrl-C (exit 130, cleaned up) and bad input (USAGE).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, PYTHON, pidAlive, runCli, tempDir } from '../helpers/env.js';
import type { DemoSummary } from '../../src/demo/state.js';

const dir = tempDir('sp-demo-t-');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };

afterAll(() => dir.cleanup());

/** Processes whose cwd, command line or any open file is inside `home` (a snapshot of /proc). */
function processesIn(home: string): number[] {
  const found: number[] = [];
  const inside = (p: string): boolean => p === home || p.startsWith(`${home}/`);
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid || !pidAlive(pid)) continue;
    const links: string[] = [];
    try {
      links.push(readlinkSync(`/proc/${pid}/cwd`));
    } catch {
      /* gone, or not ours */
    }
    try {
      links.push(...readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'));
    } catch {
      /* gone */
    }
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          links.push(readlinkSync(`/proc/${pid}/fd/${fd}`).replace(/ \(deleted\)$/, ''));
        } catch {
          /* closed meanwhile */
        }
      }
    } catch {
      /* gone, or not ours */
    }
    if (links.some(inside)) found.push(pid);
  }
  return found;
}

function expectNothingLeft(doc: DemoSummary): void {
  expect(doc.home).toMatch(/sp-demo-/);
  expect(existsSync(doc.home)).toBe(false);
  // The router, 3 agents (4 with the restarted one) and their workers.
  expect(doc.pids.length).toBeGreaterThanOrEqual(1 + doc.agents);
  expect(doc.pids.filter(pidAlive)).toEqual([]);
  expect(processesIn(doc.home)).toEqual([]);
}

describe('snakepit cluster demo', () => {
  it('kills an agent midway: every call succeeds, none is lost, the router sees it within a second, nothing is left', async () => {
    const r = await runCli(['cluster', 'demo', '--agents', '3', '--requests', '600', '--concurrency', '4', '--json'], { env, timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as DemoSummary;
    expect(doc).toMatchObject({ agents: 3, requests: 600, succeeded: 600, failed: 0, lost: 0, interrupted: false, sessions: { total: 12 } });
    expect(doc.killedAgent).toMatch(/^agent-[123]$/);
    expect(doc.detectionMs).not.toBeNull();
    expect(doc.detectionMs!).toBeLessThan(1000);
    expect(doc.sessions.moved).toBeGreaterThan(0);
    expect(doc.durationMs).toBeGreaterThan(0);
    // Progress and events on stderr; stdout holds only the document.
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`SIGKILL to ${doc.killedAgent} \\(pid \\d+\\)`));
    expect(r.stderr).toMatch(new RegExp(`router: ${doc.killedAgent} down, \\d+ ms after the kill`));
    expectNothingLeft(doc);
  }, 120_000);

  it('--no-kill, stdout not a terminal: one progress line per second on stderr, the summary as text', async () => {
    const r = await runCli(['cluster', 'demo', '--agents', '2', '--requests', '500', '--concurrency', '4', '--no-kill'], { env, timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/succeeded {2}500\n/);
    expect(r.stdout).toMatch(/lost {7}0\n/);
    expect(r.stdout).toContain('killed     none (--no-kill)');
    expect(r.stdout).toContain('No call was lost: every call succeeded.');
    expect(r.stderr).not.toContain('SIGKILL');
    const progress = r.stderr.split('\n').filter((l) => /^ +\d+\.\d+ s {2}\d+\/500 calls {2}\d+(\.\d)? calls\/s {2}\d+ in flight {2}0 failed {2}\| {2}agent-1 \w+/.test(l));
    expect(progress.length, r.stderr).toBeGreaterThanOrEqual(2);
    const home = /Nothing is left running; (\S+) was removed/.exec(r.stdout)![1]!;
    expect(existsSync(home)).toBe(false);
    expect(processesIn(home)).toEqual([]);
  }, 120_000);

  it('Ctrl-C stops the load, cleans up and exits 130', async () => {
    const child = spawn(process.execPath, [CLI, 'cluster', 'demo', '--requests', '100000', '--json'], { env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    const running = new Promise<void>((resolve) => child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      if (/calls\/s/.test(stderr)) resolve();
    }));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await running;
    child.kill('SIGINT');
    const code = await exited;
    expect(code, stderr).toBe(130);
    const doc = JSON.parse(stdout) as DemoSummary;
    expect(doc).toMatchObject({ interrupted: true, lost: 0 });
    expect(doc.succeeded).toBeLessThan(100_000);
    expectNothingLeft(doc);
  }, 120_000);

  it('bad input is a usage error, before anything starts', async () => {
    const zero = await runCli(['cluster', 'demo', '--agents', '0', '--json'], { env });
    expect(zero.code).toBe(2);
    expect(JSON.parse(zero.stdout)).toMatchObject({ ok: false, error: { code: 'USAGE' } });
    const one = await runCli(['cluster', 'demo', '--agents', '1'], { env });
    expect(one.code).toBe(2);
    expect(one.stderr).toMatch(/USAGE.*--no-kill/);
    const help = await runCli(['cluster', 'demo', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/\$ snakepit cluster demo/);
  });
});
