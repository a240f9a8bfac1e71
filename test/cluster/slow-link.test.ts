// A slow link is not a dead one: with 50 ± 20 ms added each way between the router and its agents
// (a delaying TCP proxy: the kernel here has no netem) and no failure, no agent is ever marked
// down, and calls keep succeeding. The agents advertise the proxy's address in etcd, so the
// router's calls and heartbeats all cross it. Loopback only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type AgentClient } from '../../src/index.js';
import { PYTHON, daemonPids, freePort, killPids, pidAlive, runCli, tempDir } from '../helpers/env.js';
import { delayProxy, type DelayProxy } from '../helpers/delay-proxy.js';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';

const dir = tempDir('sp-slow-');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };
const token = join(dir.path, 'token');
const certs = join(dir.path, 'certs');
const routerHome = join(dir.path, 'router');
const homes = [join(dir.path, 'agent-0'), join(dir.path, 'agent-1')];
let etcd: EtcdServer | undefined;
const proxies: DelayProxy[] = [];
const pids: number[] = [];
let client: AgentClient | undefined;

beforeAll(async () => {
  writeFileSync(token, 'slow-link-token-0123456789abcdef', { mode: 0o600 });
  etcd = await startEtcd();
  expect((await runCli(['certs', 'init', certs], { env })).code).toBe(0);
  expect((await runCli(['certs', 'issue', certs, '127.0.0.1'], { env })).code).toBe(0);
  for (const home of homes) {
    // The agent listens on a port chosen first, so the proxy in front of it exists before it registers.
    const port = await freePort();
    const proxy = await delayProxy({ host: '127.0.0.1', port }, { baseMs: 50, jitterMs: 20 });
    proxies.push(proxy);
    const up = await runCli(
      ['up', '--home', home, '--workers', '1', '--listen', `127.0.0.1:${port}`, '--advertise', proxy.address, '--token-file', token,
        '--tls-cert', join(certs, '127.0.0.1.crt'), '--tls-key', join(certs, '127.0.0.1.key'), '--registry', etcd.url, '--json'],
      { env },
    );
    expect(up.code, up.stderr).toBe(0);
    pids.push(...daemonPids(home));
  }
  const router = await runCli(['router', 'up', '--home', routerHome, '--registry', etcd.url, '--token-file', token, '--tls-ca', join(certs, 'ca.crt'), '--json'], { env });
  expect(router.code, router.stderr).toBe(0);
  pids.push(...daemonPids(routerHome));
  client = connect({ home: routerHome });
}, 120_000);

afterAll(async () => {
  client?.close();
  await runCli(['router', 'down', '--home', routerHome], { env });
  for (const home of homes) await runCli(['down', '--home', home], { env });
  killPids(pids.filter(pidAlive));
  for (const p of proxies) await p.close();
  await etcd?.cleanup();
  dir.cleanup();
}, 60_000);

describe('a slow link (50 ± 20 ms each way)', () => {
  it('never marks an agent down, and calls keep succeeding through it', async () => {
    const marks: string[] = [];
    const watcher = client!.watch({ intervalMs: 60_000 });
    const watching = (async () => {
      for await (const u of watcher) if (u.type === 'event' && u.event.type === 'cluster.agent' && u.event.state !== 'alive') marks.push(`${Date.now() % 100000} ${u.event.agent} ${u.event.state}: ${u.event.reason}`);
    })();
    const until = Date.now() + 8_000;
    let ok = 0;
    let failed = 0;
    const times: number[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (Date.now() < until) {
          const t = Date.now();
          await client!.execute('add', { a: 1, b: 2 }).then(
            () => (ok++, times.push(Date.now() - t)),
            () => failed++,
          );
        }
      }),
    );
    const s = await client!.stats();
    await watcher.return?.();
    await watching;
    expect(marks).toEqual([]);
    expect(failed).toBe(0);
    expect(s.agents!.map((a) => a.state)).toEqual(['alive', 'alive']);
    // The delay was real: a call crosses the proxy twice (there and back), 30 ms at least each way.
    times.sort((x, y) => x - y);
    expect(times[Math.floor(times.length / 2)]!).toBeGreaterThanOrEqual(60);
    expect(proxies.every((p) => p.forwarded() > 100)).toBe(true);
    console.log(`slow link: ${ok} calls, p50 ${times[Math.floor(times.length / 2)]} ms, max ${times[times.length - 1]} ms; phi max ${Math.max(...s.agents!.map((a) => a.phi))}`);
  }, 60_000);
});
