// The real dashboard against a real local cluster (`cluster up --agents 2 --workers 1`) in a real
// terminal: tmux runs it at 80×24, we type keys with send-keys and read the screen with
// capture-pane. The agent table must render (both agents alive, totals, calls/s once calls flow),
// the selected agent's workers below it, and the whole live area must fit the screen. The tmux
// server has its own socket (in the test's temp dir) and is killed through it; the cluster is
// stopped with `cluster down`, and every pid it reported is killed by pid if still alive.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '../../src/index.js';
import { CLI, PYTHON, killPids, pidAlive, runCli, tempDir, waitFor } from '../helpers/env.js';

const dir = tempDir('sp-dcl-');
const home = join(dir.path, 'h');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'c') };
const socket = join(dir.path, 'tmux.sock');
const recorded: number[] = [];
let tmuxStarted = false;

interface RouterInfo {
  pid: number;
  workerPids: number[];
  agents: Array<{ id: string; home: string; pid: number }>;
}

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

let info: RouterInfo;

beforeAll(async () => {
  const up = await runCli(['cluster', 'up', '--agents', '2', '--workers', '1', '--home', home], { env });
  // Record what started even if `up` failed half-way.
  try {
    info = JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8')) as RouterInfo;
    recorded.push(info.pid, ...info.workerPids, ...(info.agents ?? []).map((a) => a.pid));
  } catch {
    /* nothing started */
  }
  expect(up.code, up.stderr).toBe(0);
  expect(info.agents).toHaveLength(2);
}, 60_000);

afterAll(async () => {
  if (tmuxStarted) spawnSync('tmux', ['-S', socket, 'kill-server']);
  await runCli(['cluster', 'down', '--home', home], { env });
  killPids(recorded.filter(pidAlive));
  dir.cleanup();
});

describe('snakepit dashboard on a cluster', () => {
  it('in a real 80×24 terminal: the agent table with totals and calls/s, the selected agent’s workers, c, q', async () => {
    const command = `NO_COLOR=1 ${process.execPath} ${CLI} dashboard --home ${home} --interval 200; echo "dashboard exited with $?"`;
    tmux('new-session', '-d', '-s', 'dash', '-x', '80', '-y', '24', command, ';', 'set-option', '-t', 'dash', 'remain-on-exit', 'on');
    tmuxStarted = true;

    const [a1, a2] = info.agents as [RouterInfo['agents'][number], RouterInfo['agents'][number]];
    let s = await until((t) => /agent-1\s+\d+\s+alive/.test(t) && /agent-2\s+\d+\s+alive/.test(t) && /total \(2\)\s+2 alive/.test(t), 'both agents alive and the totals');
    expect(s).toContain('● live');
    expect(s).toMatch(new RegExp(`snakepit {2}router pid ${info.pid} · v[^ ]+ · up \\S+ · 2 agents`));
    expect(s).toMatch(/AGENT\s+PID\s+STATE\s+PHI\s+BREAKER\s+IN-FL\s+WORKERS\s+CALLS\/S/);
    expect(s).toMatch(new RegExp(`> agent-1\\s+${a1.pid}\\s+alive\\s+\\d+\\.\\d\\d\\s+closed\\s+\\d+\\s+1\\s`));
    expect(s).toContain(`workers of agent-1 (pid ${a1.pid})`);
    expect(s).toMatch(/default-0\s+\d+\s+(ready|busy)/);
    expect(s).toMatch(/connected to router pid \d+ \(.*2 agents\)/);

    // It fits: the live area (header … help line) is shorter than the screen, drawn once, and
    // no line is wider than the terminal.
    const lines = s.split('\n');
    const top = lines.findIndex((l) => l.startsWith('snakepit  router pid'));
    const help = lines.findIndex((l) => l.includes('q quit'));
    expect(top).toBeGreaterThanOrEqual(0);
    expect(help - top + 1).toBeLessThan(24);
    expect(lines.filter((l) => l.startsWith('snakepit  router pid'))).toHaveLength(1);
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(80);

    // Calls through the router: the agents' calls/s and the total show them.
    const client = connect({ home });
    let calling = true;
    const load = (async () => {
      while (calling) await Promise.all([client.execute('add', { a: 1, b: 2 }), client.execute('add', { a: 3, b: 4 })]);
    })();
    try {
      s = await until((t) => Number(/total \(2\)\s+2 alive\s+\d+\s+2\s+([\d.]+)/.exec(t)?.[1] ?? 0) > 0, 'calls/s of the cluster above 0');
    } finally {
      calling = false;
      await load;
      client.close();
    }

    tmux('send-keys', '-t', 'dash', 'Down');
    s = await until((t) => t.includes(`workers of agent-2 (pid ${a2.pid})`) && /> agent-2/.test(t), "agent-2's workers");

    // Cordon: the router's control may not exist yet; either way the screen says what happened.
    tmux('send-keys', '-t', 'dash', 'c');
    s = await until((t) => t.includes('cordon agent-2: not supported by this agent') || /agent-2\s+\d+\s+cordoned/.test(t), 'the cordon answered');

    tmux('send-keys', '-t', 'dash', 'q');
    await until((t) => t.includes('dashboard exited with'), 'the dashboard ended', 5000);
    expect(screen()).toContain('dashboard exited with 0');
  }, 90_000);
});
