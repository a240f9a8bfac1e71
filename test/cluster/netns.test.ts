// Across hosts, simulated: two agents, each in a network namespace of its own joined to this one by
// a veth pair, serving TLS on their namespace addresses and registered in a real etcd (reached
// over the link); a router here dials them over the links. Cutting one link (`ip link set … down`)
// must stop the router routing to that agent within its detection time, with no failed idempotent
// call; the agent rejoins when the link returns. Only loopback and the namespaces made here are
// used, and all of them are removed at the end. Needs root (as in CI): elsewhere the file skips.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type AgentClient } from '../../src/index.js';
import { CLI, PYTHON, daemonPids, killPids, pidAlive, runCli, tempDir, waitFor, type CliResult } from '../helpers/env.js';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { netnsAvailable, simHost, type SimHost } from '../helpers/netns.js';

const TOOLS = `from snakepit import tool
import os

@tool
def whoami() -> int:
    return os.getpid()
`;

const available = netnsAvailable();
const dir = tempDir('sp-netns-');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };
const token = join(dir.path, 'token');
const certs = join(dir.path, 'certs');
const routerHome = join(dir.path, 'router');
let etcd: EtcdServer | undefined;
const hosts: SimHost[] = [];
const pids: number[] = [];
let client: AgentClient | undefined;

/** The CLI run inside a namespace (`ip netns exec`), as a user on that host would. */
function cliIn(host: SimHost, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const [cmd, ...rest] = host.exec([process.execPath, CLI, ...args]);
    execFile(cmd!, rest, { env: { ...(process.env as Record<string, string>), ...env, NO_COLOR: '1' }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
  });
}

async function agentStates(): Promise<Record<string, string>> {
  const s = await client!.stats();
  return Object.fromEntries((s.agents ?? []).map((a) => [a.address.split(':')[0]!, a.state]));
}

describe.runIf(available || process.env.CI)('agents on simulated hosts (network namespaces)', () => {
  beforeAll(async () => {
    writeFileSync(token, 'x'.repeat(8) + Math.random().toString(36).slice(2).padEnd(24, 'z'), { mode: 0o600 });
    writeFileSync(join(dir.path, 'tools.py'), TOOLS);
    for (const label of ['a', 'b']) hosts.push(simHost(label));
    etcd = await startEtcd({ hosts: hosts.map((h) => h.hostAddress) });
    const port = etcd.endpoint.split(':')[1]!;
    expect((await runCli(['certs', 'init', certs], { env })).code).toBe(0);
    for (const h of hosts) {
      const issued = await runCli(['certs', 'issue', certs, h.address], { env });
      expect(issued.code, issued.stderr).toBe(0);
    }
    // Each agent runs inside its namespace, registers in etcd over its link, serves TLS there.
    for (const [i, h] of hosts.entries()) {
      const home = join(dir.path, `agent-${i}`);
      const up = await cliIn(h, [
        'up', '--home', home, '--tools', join(dir.path, 'tools.py'), '--workers', '1',
        '--listen', `${h.address}:0`, '--token-file', token,
        '--tls-cert', join(certs, `${h.address}.crt`), '--tls-key', join(certs, `${h.address}.key`),
        '--registry', `etcd://${h.hostAddress}:${port}`, '--registry-ttl', '2s', '--json',
      ]);
      expect(up.code, up.stderr).toBe(0);
      pids.push(...daemonPids(home));
    }
    const router = await runCli(['router', 'up', '--home', routerHome, '--registry', etcd.url, '--token-file', token, '--tls-ca', join(certs, 'ca.crt'), '--json'], { env });
    expect(router.code, router.stderr).toBe(0);
    pids.push(...daemonPids(routerHome));
    client = connect({ home: routerHome });
    await waitFor(async () => Object.values(await agentStates()).filter((s) => s === 'alive').length === 2, 15_000, 100);
  }, 120_000);

  afterAll(async () => {
    client?.close();
    for (const h of hosts) {
      try {
        h.link(true);
      } catch {
        /* removed already */
      }
    }
    await runCli(['router', 'down', '--home', routerHome], { env });
    for (const [i, h] of hosts.entries()) await cliIn(h, ['down', '--home', join(dir.path, `agent-${i}`)]);
    killPids(pids.filter(pidAlive));
    for (const h of hosts) h.remove();
    await etcd?.cleanup();
    dir.cleanup();
  }, 60_000);

  it('routes over the links to both agents, with TLS on their namespace addresses', async () => {
    const states = await agentStates();
    expect(states).toEqual({ [hosts[0]!.address]: 'alive', [hosts[1]!.address]: 'alive' });
    const s = await client!.stats();
    expect(s.membership).toMatchObject({ kind: 'etcd', state: 'ok' });
    // Calls without a session spread over both (two choices on load): both workers answer.
    const workers = new Set(await Promise.all(Array.from({ length: 40 }, () => client!.execute<number>('whoami', {}, { idempotent: true }))));
    expect(workers.size).toBe(2);
  });

  it('a cut link stops routing to that agent within its detection time, no idempotent call fails, and it rejoins when the link returns', async () => {
    const [a, b] = hosts as [SimHost, SimHost];
    let failed = 0;
    let done = 0;
    let running = true;
    const load = (async () => {
      const lanes = Array.from({ length: 4 }, async () => {
        while (running) {
          await client!.execute('whoami', {}, { idempotent: true, timeoutMs: 10_000 }).then(
            () => done++,
            () => failed++,
          );
        }
      });
      await Promise.all(lanes);
    })();
    // The router's own view, as it changes: cluster.agent events, timed here.
    const idA = (await client!.stats()).agents!.find((x) => x.address.startsWith(`${a.address}:`))!.id;
    const changes: Array<{ at: number; state: string }> = [];
    const watcher = client!.watch({ intervalMs: 60_000 });
    const watching = (async () => {
      for await (const u of watcher) if (u.type === 'event' && u.event.type === 'cluster.agent' && u.event.agent === idA) changes.push({ at: Date.now(), state: u.event.state });
    })();
    await new Promise((r) => setTimeout(r, 500));
    const cutAt = Date.now();
    a.link(false);
    await waitFor(() => changes.some((c) => c.state === 'suspect' || c.state === 'down'), 10_000, 10);
    const detectedMs = changes.find((c) => c.state === 'suspect' || c.state === 'down')!.at - cutAt;
    // Phi accrual on 200 ms heartbeats: well under the lease (2 s here, 10 s by default).
    expect(detectedMs).toBeLessThan(5_000);
    expect((await agentStates())[b.address]).toBe('alive');
    const doneAtCut = done;
    // Past the lease (2 s): etcd drops the agent's key and the router forgets it; calls go to b.
    await waitFor(async () => !((await agentStates())[a.address]), 15_000, 50);
    const removedMs = Date.now() - cutAt;
    expect(done).toBeGreaterThan(doneAtCut);
    a.link(true);
    const backAt = Date.now();
    await waitFor(async () => (await agentStates())[a.address] === 'alive', 30_000, 50);
    const rejoinMs = Date.now() - backAt;
    running = false;
    await load;
    await watcher.return?.();
    await watching;
    expect(failed).toBe(0);
    expect(done).toBeGreaterThan(20);
    console.log(`link cut: routing stopped after ${detectedMs} ms, removed (lease expired) after ${removedMs} ms; rejoined ${rejoinMs} ms after the link returned; ${done} calls, ${failed} failed`);
  }, 90_000);
});
