// The real dashboard against a real daemon in a real terminal: tmux runs it at 80×24, we type
// keys with send-keys and read the screen with capture-pane. Also the non-terminal path (one
// snapshot, exit 0) and no agent (exit 3). The tmux server has its own socket (in the test's temp
// dir) and is killed through it; daemon and worker processes are killed by recorded pid.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, PYTHON, killPids, pidAlive, runCli, tempDir, waitFor } from '../helpers/env.js';

const dir = tempDir('sp-dash-');
const home = join(dir.path, 'h');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'c') };
const socket = join(dir.path, 'tmux.sock');
const recorded: number[] = [];
let tmuxStarted = false;

function tmux(...args: string[]): string {
  const env2: Record<string, string> = { ...(process.env as Record<string, string>), ...env };
  delete env2.SNAKEPIT_HOME;
  delete env2.TMUX; // a test run from inside tmux must still start its own server
  const r = spawnSync('tmux', ['-S', socket, '-f', '/dev/null', ...args], { encoding: 'utf8', env: env2 });
  if (r.error) throw new Error(`tmux is required for this test (apt-get install tmux): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

const screen = (): string => tmux('capture-pane', '-p', '-t', 'dash');

async function until(check: (s: string) => boolean, what: string, ms = 15_000): Promise<string> {
  try {
    await waitFor(() => check(screen()), ms, 50);
  } catch {
    throw new Error(`the screen never showed ${what}; it shows:\n${screen()}`);
  }
  return screen();
}

function recordAgent(): number {
  const info = JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8')) as { pid: number; workerPids: number[] };
  recorded.push(info.pid, ...info.workerPids);
  return info.pid;
}

beforeAll(async () => {
  const up = await runCli(['up', '--home', home, '--workers', '2'], { env });
  expect(up.code, up.stderr).toBe(0);
  recordAgent();
});

afterAll(async () => {
  if (tmuxStarted) spawnSync('tmux', ['-S', socket, 'kill-server']);
  await runCli(['down', '--home', home], { env });
  killPids(recorded.filter(pidAlive));
  dir.cleanup();
});

describe('snakepit dashboard', () => {
  it('in a real terminal: live workers and calls, r restarts the selected worker, reconnects after an agent restart, q quits', async () => {
    // CI=true on purpose: on a terminal the dashboard must draw even when CI is set (Ink would not).
    // The shell reports the dashboard's exit status on the screen (tmux's own #{pane_dead_status}
    // is sometimes never set: its reaping of the pane process races with the pty closing).
    const command = `CI=true NO_COLOR=1 ${process.execPath} ${CLI} dashboard --home ${home} --interval 200; echo "dashboard exited with $?"`;
    tmux('new-session', '-d', '-s', 'dash', '-x', '80', '-y', '24', command, ';', 'set-option', '-t', 'dash', 'remain-on-exit', 'on');
    tmuxStarted = true;

    let s = await until((t) => /default-0\s+\d+/.test(t) && /default-1\s+\d+/.test(t), 'both workers with pids');
    expect(s).toContain('● live');
    expect(s).toMatch(/connected to agent pid \d+/);
    // The live area (header … help line) is shorter than the screen, so Ink never clears it.
    const lines = s.split('\n');
    const top = lines.findIndex((l) => l.startsWith('snakepit  agent pid'));
    const help = lines.findIndex((l) => l.includes('q quit'));
    expect(top).toBeGreaterThanOrEqual(0);
    expect(help - top + 1).toBeLessThan(24);
    expect(lines.filter((l) => l.startsWith('snakepit  agent pid'))).toHaveLength(1);

    for (let i = 0; i < 3; i++) {
      const r = await runCli(['exec', 'add', 'a=1', 'b=2', '--home', home], { env });
      expect(r.stdout.trim()).toBe('3');
    }
    s = await until((t) => Number(/calls (\d+) ok/.exec(t)?.[1] ?? 0) >= 3, 'the 3 calls counted');

    const before = Number(/default-1\s+(\d+)/.exec(s)![1]);
    tmux('send-keys', '-t', 'dash', 'Down');
    await until((t) => /> default-1/.test(t), 'default-1 selected');
    tmux('send-keys', '-t', 'dash', 'r');
    s = await until((t) => t.includes(`worker default-1 recycled (pid ${before})`) && Number(/default-1\s+(\d+)/.exec(t)?.[1]) !== before, 'default-1 recycled with a new pid');
    recorded.push(Number(/default-1\s+(\d+)/.exec(s)![1]));

    // The agent restarts: the dashboard says it lost it, then shows the new one.
    const down = await runCli(['down', '--home', home], { env });
    expect(down.code, down.stderr).toBe(0);
    await until((t) => t.includes('agent not reachable — retrying'), 'the agent lost');
    const up = await runCli(['up', '--home', home, '--workers', '2'], { env });
    expect(up.code, up.stderr).toBe(0);
    const pid = recordAgent();
    s = await until((t) => t.includes(`snakepit  agent pid ${pid}`) && t.includes('● live'), `the new agent (pid ${pid})`);
    expect(s).toContain(`connected to agent pid ${pid}`);

    tmux('send-keys', '-t', 'dash', 'q');
    await until((t) => t.includes('dashboard exited with'), 'the dashboard ended', 5000);
    expect(screen()).toContain('dashboard exited with 0');
  }, 90_000);

  it('not on a terminal: prints one snapshot (text or --json) and exits 0', async () => {
    const text = await runCli(['dashboard', '--home', home, '--interval', '200'], { env });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^agent {4}pid \d+/);
    expect(text.stdout).toMatch(/WORKER\s+PID\s+STATE/);
    expect(text.stdout).toMatch(/default-0\s+\d+\s+ready/);
    const json = await runCli(['dashboard', '--home', home, '--json'], { env });
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ workers: [{ id: 'default-0' }, { id: 'default-1' }], queue: { depth: 0 } });
  });

  it('no agent: exit 3 with how to start one', async () => {
    const none = join(dir.path, 'none');
    const r = await runCli(['dashboard', '--home', none], { env });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('AGENT_UNAVAILABLE');
    expect(r.stderr).toContain(`snakepit up --home ${none}`);
  });
});
