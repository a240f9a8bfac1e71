// A local cluster's router on TCP (`cluster up --listen`): clients on other hosts reach the whole
// cluster with the token (plaintext on loopback here), while its agents stay on their home
// sockets (only the router listens; before, the flags did not exist for `cluster up`).
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PYTHON, killPids, pidAlive, runCli, tempDir } from '../helpers/env.js';

const dir = tempDir('sp-ctcp-');
const home = join(dir.path, 'home');
const token = join(dir.path, 'token');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };
const pids: number[] = [];

afterAll(async () => {
  await runCli(['cluster', 'down', '--home', home], { env });
  killPids(pids.filter(pidAlive));
  dir.cleanup();
});

describe('cluster up --listen', () => {
  it('serves the router on TCP with the token; the agents listen on nothing but their sockets', async () => {
    writeFileSync(token, 'cluster-tcp-token-0123456789abcdef', { mode: 0o600 });
    const up = await runCli(['cluster', 'up', '--home', home, '--agents', '2', '--workers', '1', '--listen', '127.0.0.1:0', '--token-file', token, '--json'], { env, timeoutMs: 90_000 });
    expect(up.code, up.stderr).toBe(0);
    const doc = JSON.parse(up.stdout) as { address: string; transport: string; agents: number };
    expect(doc).toMatchObject({ address: expect.stringMatching(/^127\.0\.0\.1:\d+$/), transport: 'insecure', agents: 2 });
    const router = JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8')) as { pid: number; kind: string; network?: unknown; agents: Array<{ home: string; pid: number }> };
    pids.push(router.pid, ...router.agents.map((a) => a.pid));
    expect(router.kind).toBe('router');
    expect(router.network).toMatchObject({ listen: doc.address });
    for (const a of router.agents) {
      const info = JSON.parse(readFileSync(join(a.home, 'agent.json'), 'utf8')) as { network?: unknown; workerPids: number[] };
      pids.push(...info.workerPids);
      expect(info.network).toBeUndefined();
    }
    const exec = await runCli(['exec', 'add', 'a=2', 'b=3', '--address', doc.address, '--token-file', token], { env });
    expect(exec.code, exec.stderr).toBe(0);
    expect(exec.stdout.trim()).toBe('5');
    const status = await runCli(['cluster', 'status', '--address', doc.address, '--token-file', token, '--json'], { env });
    expect(status.code, status.stderr).toBe(0);
    expect((JSON.parse(status.stdout) as { agents: unknown[] }).agents).toHaveLength(2);
    const denied = await runCli(['exec', 'add', 'a=2', 'b=3', '--address', doc.address, '--json'], { env });
    expect(denied.code).toBe(1);
    expect(JSON.parse(denied.stdout).error.code).toBe('UNAUTHENTICATED');
    expect(existsSync(join(home, 'agent.sock'))).toBe(true);
  }, 120_000);
});
