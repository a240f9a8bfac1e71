// The live view the dashboard is built on: watch() delivers a stats snapshot at once and then
// every interval, plus agent events as they happen; restartWorker() replaces one worker. Both on
// the embedded agent and through a daemon.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, startAgent, type AgentClient, type EmbeddedAgent, type SnakepitClient, type WatchUpdate } from '../../src/index.js';
import { PYTHON, killPids, pidAlive, runCli, tempDir } from '../helpers/env.js';

const dir = tempDir('sp-watch-');
const home = join(dir.path, 'h');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'c') };
let embedded: EmbeddedAgent;
let remote: AgentClient;
const recorded: number[] = [];

beforeAll(async () => {
  embedded = await startAgent({ python: PYTHON, workers: 2 });
  const up = await runCli(['up', '--home', home, '--workers', '2'], { env });
  expect(up.code, up.stderr).toBe(0);
  const info = JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8')) as { pid: number; workerPids: number[] };
  recorded.push(info.pid, ...info.workerPids);
  remote = connect({ home });
});
afterAll(async () => {
  await embedded?.stop();
  remote?.close();
  await runCli(['down', '--home', home], { env });
  killPids(recorded.filter(pidAlive));
  dir.cleanup();
});

async function collect(it: AsyncIterableIterator<WatchUpdate>, until: (seen: WatchUpdate[]) => boolean, ms = 8000): Promise<WatchUpdate[]> {
  const seen: WatchUpdate[] = [];
  const deadline = Date.now() + ms;
  for await (const u of it) {
    seen.push(u);
    if (until(seen) || Date.now() > deadline) break;
  }
  return seen;
}

describe.each([
  ['embedded', () => embedded as SnakepitClient],
  ['daemon', () => remote as SnakepitClient],
])('watch and restartWorker (%s)', (_name, client) => {
  it('sends a snapshot at once, then snapshots every interval and events as they happen', async () => {
    const it = client().watch({ intervalMs: 100, calls: true });
    const first = await it.next();
    expect(first.value).toMatchObject({ type: 'stats', stats: { workers: expect.any(Array) } });
    await client().execute('add', { a: 1, b: 2 });
    const seen = await collect(it, (s) => s.filter((u) => u.type === 'stats').length >= 2 && s.some((u) => u.type === 'event' && u.event.type === 'call.finished'));
    const finished = seen.find((u) => u.type === 'event' && u.event.type === 'call.finished');
    expect(finished).toMatchObject({ event: { tool: 'add', code: null, pool: 'default' } });
  });

  it('restartWorker replaces the worker and the watch stream reports it', async () => {
    const before = (await client().stats()).workers[0]!;
    const it = client().watch({ intervalMs: 1000 });
    await it.next();
    await client().restartWorker(before.id);
    const seen = await collect(it, (s) => s.some((u) => u.type === 'event' && u.event.type === 'worker.recycled'));
    await it.return?.();
    expect(seen.some((u) => u.type === 'event' && u.event.type === 'worker.recycled' && u.event.pid === before.pid)).toBe(true);
    const after = (await client().stats()).workers.find((w) => w.id === before.id)!;
    expect(after.pid).not.toBe(before.pid);
    await expect(client().restartWorker('nope-9')).rejects.toMatchObject({ code: 'USAGE' });
  });
});
