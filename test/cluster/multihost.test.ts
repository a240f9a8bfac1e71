// Multi-host on one machine (issue 11, points 4 and 6): a real etcd (test/helpers/etcd.ts), two
// agent daemons (`snakepit up --listen … --registry … --registry-ttl 2s`, TLS and the token) and
// routers (`snakepit router up`, TLS and the token on their own TCP address), all started through
// the CLI on loopback, with a CA and host certificate made by `snakepit certs`. Covered:
// registration and spreading, missing and wrong tokens and an untrusted certificate refused at a
// router, etcd stopped and restarted under load, two routers agreeing on a session's agent and a
// router SIGKILLed under load from a client given both, an agent SIGKILLed under load (its key
// gone after the lease) and one stopped cleanly (its key gone at once). The tests share the
// cluster and run in order: each says what the previous left. Every pid is recorded and killed
// by pid in afterAll.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type AgentClient } from '../../src/index.js';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { FIXTURES, PYTHON, killPids, pidAlive, runCli, tempDir, waitFor } from '../helpers/env.js';

const TTL_MS = 2_000;
const PREFIX = '/snakepit/v1/agents/';
const dir = tempDir('sp-mh-');
const certs = join(dir.path, 'certs');
const ca = join(certs, 'ca.crt');
const tokenFile = join(dir.path, 'token');
const wrongTokenFile = join(dir.path, 'wrong-token');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };
/** `pid` (the worker's pid) and `remember` (a per-session total kept in the worker). */
const TOOLS = join(FIXTURES, 'pool_tools.py');
const serverTls = (): string[] => ['--token-file', tokenFile, '--tls-cert', join(certs, '127.0.0.1.crt'), '--tls-key', join(certs, '127.0.0.1.key')];

interface Daemon {
  home: string;
  id: string;
  pid: number;
  /** The TCP address it serves (TLS + token). */
  address: string;
}
interface Agent extends Daemon {
  /** The workers' pids now (agent.json). */
  workerPids(): number[];
}

let etcd: EtcdServer;
let agentA: Agent;
let agentB: Agent;
let routerA: Daemon;
let routerB: Daemon | undefined;
const agents: Agent[] = [];
const routers: Daemon[] = [];
const clients: AgentClient[] = [];
/** Every daemon and worker pid seen: SIGKILLed in afterAll if still alive. */
const pids = new Set<number>();

const cli = (args: string[], timeoutMs = 60_000) => runCli(args, { env, timeoutMs });
const tcpFlags = (address: string): string[] => ['--address', address, '--token-file', tokenFile, '--tls-ca', ca];
const readInfo = (home: string): { id: string; pid: number; workerPids?: number[] } => JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8'));

async function startAgent(name: string): Promise<Agent> {
  const home = join(dir.path, name);
  const r = await cli(['up', '--home', home, '--workers', '2', '--tools', TOOLS, '--listen', '127.0.0.1:0', ...serverTls(), '--registry', etcd.url, '--registry-ttl', '2s', '--json']);
  expect(r.code, r.stderr).toBe(0);
  const up = JSON.parse(r.stdout) as { pid: number; address: string; transport: string };
  expect(up.transport).toBe('tls');
  const info = readInfo(home);
  const agent: Agent = {
    home,
    id: info.id,
    pid: info.pid,
    address: up.address,
    workerPids: () => {
      const now = readInfo(home).workerPids ?? [];
      for (const p of now) pids.add(p);
      return now;
    },
  };
  pids.add(agent.pid);
  agent.workerPids();
  agents.push(agent);
  return agent;
}

async function startRouter(name: string): Promise<Daemon> {
  const home = join(dir.path, name);
  const r = await cli(['router', 'up', '--home', home, '--registry', etcd.url, '--tls-ca', ca, ...serverTls(), '--listen', '127.0.0.1:0', '--json']);
  expect(r.code, r.stderr).toBe(0);
  const up = JSON.parse(r.stdout) as { pid: number; address: string; transport: string };
  expect(up.transport).toBe('tls');
  const router: Daemon = { home, id: readInfo(home).id, pid: up.pid, address: up.address };
  pids.add(router.pid);
  routers.push(router);
  return router;
}

interface ClusterStatus {
  router: { id: string; pid: number };
  membership?: { kind: string; state: 'ok' | 'degraded'; endpoints?: string[]; since?: number; lastError?: string | null };
  agents: Array<{ id: string; address: string; pid: number; state: string; workerPids: number[] }>;
}

async function routerStatus(router: Daemon): Promise<ClusterStatus> {
  const r = await cli(['router', 'status', '--home', router.home, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as ClusterStatus;
}

const aliveAgents = (s: ClusterStatus): string[] => s.agents.filter((a) => a.state === 'alive').map((a) => a.id).sort();

function client(addresses: string[]): AgentClient {
  const c = connect({ addresses, tokenFile, tls: { ca: readFileSync(ca) } });
  clients.push(c);
  return c;
}

/** Whether the agent's key is in etcd (a client of its own: etcd may have restarted since). */
async function keyExists(agent: Agent): Promise<boolean> {
  const direct = new Etcd3({ hosts: `http://${etcd.endpoint}` });
  try {
    return (await direct.get(`${PREFIX}${agent.id}`).buffer()) !== null;
  } finally {
    direct.close();
  }
}

/** Polls until the agent's key is gone; resolves with when it was first seen gone. */
async function keyGone(agent: Agent, ms: number): Promise<number> {
  const direct = new Etcd3({ hosts: `http://${etcd.endpoint}` });
  try {
    const deadline = Date.now() + ms;
    while ((await direct.get(`${PREFIX}${agent.id}`).buffer()) !== null) {
      if (Date.now() > deadline) throw new Error(`key of ${agent.id} still in etcd after ${ms} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return Date.now();
  } finally {
    direct.close();
  }
}

interface Done {
  at: number;
  pid: number;
}
/** `concurrency` loops of idempotent `pid` calls until stopped: what answered (and when), what failed. */
function startLoad(c: AgentClient, concurrency = 8): { done: Done[]; failures: string[]; stop(): Promise<void> } {
  let running = true;
  const done: Done[] = [];
  const failures: string[] = [];
  const loop = async (): Promise<void> => {
    while (running) {
      try {
        done.push({ pid: (await c.execute('pid', {}, { idempotent: true, timeoutMs: 15_000 })) as number, at: Date.now() });
      } catch (err) {
        failures.push(`${(err as { code?: string }).code}: ${(err as Error).message}`);
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    done,
    failures,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** The longest time without an answer from `from` on (how long a failover held calls up), ms. */
function longestGap(done: Done[], from: number): number {
  const times = [from, ...done.map((d) => d.at).filter((t) => t >= from).sort((a, b) => a - b)];
  return times.slice(1).reduce((gap, t, i) => Math.max(gap, t - times[i]!), 0);
}

/** Waits until `n` more calls of the load answered. */
const moreCalls = (load: { done: Done[] }, n: number, ms = 15_000): Promise<void> => {
  const target = load.done.length + n;
  return waitFor(() => load.done.length >= target, ms, 10);
};

beforeAll(async () => {
  const t0 = Date.now();
  writeFileSync(tokenFile, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
  writeFileSync(wrongTokenFile, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
  const [started, init] = await Promise.all([startEtcd(), cli(['certs', 'init', certs, '--json'])]);
  etcd = started;
  expect(init.code, init.stderr).toBe(0);
  const issue = await cli(['certs', 'issue', certs, '127.0.0.1', '--json']);
  expect(issue.code, issue.stderr).toBe(0);
  [agentA, agentB] = await Promise.all([startAgent('a'), startAgent('b')]);
  routerA = await startRouter('ra');
  console.log(`multihost: etcd, certificates, 2 agents and a router up in ${Date.now() - t0} ms`);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  for (const r of routers) if (pidAlive(r.pid)) await cli(['router', 'down', '--home', r.home], 20_000);
  for (const a of agents) {
    if (pidAlive(a.pid)) {
      a.workerPids();
      await cli(['down', '--home', a.home], 20_000);
    }
  }
  killPids([...pids].filter(pidAlive));
  await etcd?.cleanup();
  dir.cleanup();
}, 60_000);

describe('two agents and a router over etcd, TLS and a token', () => {
  it('registers both agents (router status: alive, membership etcd ok) and spreads calls over them', async () => {
    await waitFor(async () => aliveAgents(await routerStatus(routerA)).length === 2, 10_000, 100);
    const status = await routerStatus(routerA);
    expect(status.membership).toMatchObject({ kind: 'etcd', state: 'ok', endpoints: [etcd.endpoint], lastError: null });
    expect(status.router.pid).toBe(routerA.pid);
    const byId = new Map(status.agents.map((a) => [a.id, a]));
    for (const agent of [agentA, agentB]) {
      expect(byId.get(agent.id)).toMatchObject({ address: agent.address, pid: agent.pid, state: 'alive', workerPids: agent.workerPids() });
      const direct = new Etcd3({ hosts: `http://${etcd.endpoint}` });
      try {
        expect(JSON.parse((await direct.get(`${PREFIX}${agent.id}`).string())!)).toMatchObject({ id: agent.id, address: agent.address, state: 'serving', capacity: 2, pid: agent.pid });
      } finally {
        direct.close();
      }
    }
    // The same over the router's TCP address (TLS + token), as a remote operator sees it.
    const remote = await cli(['router', 'status', ...tcpFlags(routerA.address), '--json']);
    expect(remote.code, remote.stderr).toBe(0);
    expect(aliveAgents(JSON.parse(remote.stdout) as ClusterStatus)).toEqual([agentA.id, agentB.id].sort());

    // Spreading: 64 calls, 8 at a time, land on the workers of both agents (and nowhere else).
    const c = client([routerA.address]);
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) seen.push(...((await Promise.all(Array.from({ length: 8 }, () => c.execute('pid', {})))) as number[]));
    const on = (agent: Agent): number => seen.filter((p) => agent.workerPids().includes(p)).length;
    expect(on(agentA) + on(agentB)).toBe(64);
    expect(on(agentA)).toBeGreaterThan(0);
    expect(on(agentB)).toBeGreaterThan(0);
    // The CLI through the router's TCP address.
    const exec = await cli(['exec', 'pid', ...tcpFlags(routerA.address)]);
    expect(exec.stderr).toBe('');
    expect([...agentA.workerPids(), ...agentB.workerPids()]).toContain(Number(exec.stdout.trim()));
  });

  it("refuses missing and wrong tokens at the router's TCP address, and a client that does not trust its certificate", async () => {
    const before = (await client([routerA.address]).stats()).calls;
    const noToken = await cli(['exec', 'pid', '--address', routerA.address, '--tls-ca', ca, '--json']);
    expect(noToken.code).toBe(1);
    expect(JSON.parse(noToken.stdout)).toEqual({ ok: false, error: { code: 'UNAUTHENTICATED', message: expect.stringMatching(/needs the cluster token: give the client --token-file FILE/) } });
    const wrong = await cli(['exec', 'pid', '--address', routerA.address, '--token-file', wrongTokenFile, '--tls-ca', ca, '--json']);
    expect(wrong.code).toBe(1);
    expect(JSON.parse(wrong.stdout)).toEqual({ ok: false, error: { code: 'UNAUTHENTICATED', message: expect.stringMatching(/not this cluster's token/) } });
    const wrongText = await cli(['stats', '--address', routerA.address, '--token-file', wrongTokenFile, '--tls-ca', ca]);
    expect(wrongText.code).toBe(1);
    expect(wrongText.stderr).toMatch(/error \[UNAUTHENTICATED\] the token presented is not this cluster's token/);
    expect(wrongText.stderr).not.toContain(readFileSync(wrongTokenFile, 'utf8').trim()); // never in errors
    const wrongLib = connect({ address: routerA.address, tokenFile: wrongTokenFile, tls: { ca: readFileSync(ca) } });
    clients.push(wrongLib);
    await expect(wrongLib.execute('pid', {})).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });

    // TLS with the system's roots only (no CA given), and with another CA: the certificate is named.
    const untrusted = /^TLS to 127\.0\.0\.1:\d+ failed: the agent's certificate is not signed by a CA this client trusts \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\): pass --tls-ca FILE/;
    const noCa = connect({ address: routerA.address, tokenFile, tls: {} });
    clients.push(noCa);
    const err = await noCa.execute('pid', {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TLS_ERROR', message: expect.stringMatching(untrusted) });
    const otherCa = join(dir.path, 'other-ca');
    expect((await cli(['certs', 'init', otherCa])).code).toBe(0);
    const wrongCa = await cli(['exec', 'pid', '--address', routerA.address, '--token-file', tokenFile, '--tls-ca', join(otherCa, 'ca.crt'), '--json']);
    expect(wrongCa.code).toBe(1);
    expect(JSON.parse(wrongCa.stdout)).toEqual({ ok: false, error: { code: 'TLS_ERROR', message: expect.stringMatching(untrusted) } });

    // Nothing of it reached an agent.
    const after = (await client([routerA.address]).stats()).calls;
    expect(after.completed + after.failed).toBe(before.completed + before.failed);
  });

  it('keeps calls flowing on its last view while etcd is stopped, reports degraded, and is ok again after the restart', async () => {
    const load = startLoad(client([routerA.address]));
    // The router's own view of etcd, polled through its stats (finer than a CLI per poll).
    const watcher = client([routerA.address]);
    const membershipIs = (state: 'ok' | 'degraded') => waitFor(async () => (await watcher.stats()).membership?.state === state, 15_000, 10);
    try {
      await moreCalls(load, 50);
      const stoppedAt = Date.now();
      await etcd.stop();
      const exitedAt = Date.now();
      await membershipIs('degraded');
      const degradedIn = Date.now() - exitedAt;
      const outage = await routerStatus(routerA);
      expect(outage.membership).toMatchObject({ kind: 'etcd', state: 'degraded', endpoints: [etcd.endpoint], lastError: expect.any(String) });
      expect(aliveAgents(outage)).toEqual([agentA.id, agentB.id].sort()); // the last view
      const text = await cli(['router', 'status', '--home', routerA.home]);
      expect(text.stdout).toMatch(new RegExp(`members  etcd ${etcd.endpoint}: DEGRADED since \\S+ \\(.+\\): routing on the last view`));
      await moreCalls(load, 100);
      // Longer than the agents' lease: the view must survive it.
      await new Promise((r) => setTimeout(r, Math.max(0, stoppedAt + TTL_MS + 1_000 - Date.now())));
      const duringOutage = load.done.length;
      const restartAt = Date.now();
      await etcd.restart();
      const healthyAt = Date.now();
      await membershipIs('ok');
      const okIn = Date.now() - healthyAt;
      const served = load.done.filter((d) => d.at > stoppedAt && d.at < restartAt).length;
      await moreCalls(load, 100);
      await load.stop();
      console.log(`multihost etcd outage: degraded seen ${degradedIn} ms after etcd exited; ${served} calls answered in the ${restartAt - stoppedAt} ms outage; ok again ${okIn} ms after etcd was healthy; ${load.done.length} calls, ${load.failures.length} failed`);
      expect(load.failures).toEqual([]);
      expect(served).toBeGreaterThan(100);
      expect(duringOutage).toBeGreaterThan(150);
      // ok since the reconnection (lastError keeps what made it degraded).
      const back = await routerStatus(routerA);
      expect(back.membership).toMatchObject({ kind: 'etcd', state: 'ok' });
      expect(back.membership?.since).toBeGreaterThanOrEqual(restartAt);
      await waitFor(async () => aliveAgents(await routerStatus(routerA)).length === 2, 10_000, 100);
      expect(await keyExists(agentA)).toBe(true);
      expect(await keyExists(agentB)).toBe(true);
      // Both agents served during and after the outage.
      const later = load.done.filter((d) => d.at > stoppedAt).map((d) => d.pid);
      expect(later.some((p) => agentA.workerPids().includes(p))).toBe(true);
      expect(later.some((p) => agentB.workerPids().includes(p))).toBe(true);
    } finally {
      await load.stop();
    }
  }, 60_000);

  it('two routers send a session to the same agent (and worker); SIGKILLing router A under load fails no idempotent call of a client given A and B', async () => {
    routerB = await startRouter('rb');
    await waitFor(async () => aliveAgents(await routerStatus(routerB!)).length === 2, 10_000, 100);
    const [viaA, viaB] = [client([routerA.address]), client([routerB.address])];
    const owners = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const session = `s${i}`;
      const a = (await viaA.execute('remember', { value: 1 }, { session })) as { pid: number; total: number };
      const b = (await viaB.execute('remember', { value: 1 }, { session })) as { pid: number; total: number };
      // The same worker: the session's state, kept there, saw both calls.
      expect(b, session).toEqual({ pid: a.pid, total: 2 });
      owners.add(agentA.workerPids().includes(a.pid) ? agentA.id : agentB.id);
    }
    // And the CLI's --session through router B, then A again.
    const cliB = await cli(['exec', 'remember', 'value=1', '--session', 's0', ...tcpFlags(routerB.address), '--json']);
    expect(cliB.code, cliB.stderr).toBe(0);
    const s0 = (JSON.parse(cliB.stdout) as { result: { pid: number; total: number } }).result;
    expect(s0.total).toBe(3);
    expect(await viaA.execute('remember', { value: 1 }, { session: 's0' })).toEqual({ pid: s0.pid, total: 4 });
    console.log(`multihost sessions: 8 sessions owned by ${owners.size} agent(s)`);

    const both = client([routerA.address, routerB.address]);
    expect((await both.stats()).agent.id).toBe(routerA.id);
    const load = startLoad(both);
    try {
      await moreCalls(load, 100);
      const killedAt = Date.now();
      process.kill(routerA.pid, 'SIGKILL');
      await waitFor(() => !pidAlive(routerA.pid), 5_000);
      await moreCalls(load, 200);
      await load.stop();
      const after = load.done.filter((d) => d.at > killedAt).length;
      console.log(`multihost router kill: ${load.done.length} calls (${after} after the kill), ${load.failures.length} failed; longest wait for an answer after the kill ${longestGap(load.done, killedAt)} ms`);
      expect(load.failures).toEqual([]);
      expect(after).toBeGreaterThanOrEqual(200);
      expect((await both.stats()).agent.id).toBe(routerB.id);
    } finally {
      await load.stop();
    }
  }, 60_000);

  it('an agent SIGKILLed under load: no idempotent call fails, its key goes with its lease; a clean down removes the key at once', async () => {
    const router = routerB!;
    const load = startLoad(client([router.address]));
    let killedAt = 0;
    try {
      await moreCalls(load, 100);
      const victims = [agentA.pid, ...agentA.workerPids()];
      killedAt = Date.now();
      killPids(victims);
      expect(await keyExists(agentA)).toBe(true); // not before the lease expires
      const goneAt = await keyGone(agentA, TTL_MS + 3_000);
      const keyAfter = goneAt - killedAt;
      // The last renewal was at most a third of the TTL before the kill; etcd checks expiry every 500 ms.
      expect(keyAfter).toBeGreaterThanOrEqual(TTL_MS - TTL_MS / 3 - 100);
      expect(keyAfter).toBeLessThan(TTL_MS + 1_500);
      await waitFor(async () => (await routerStatus(router)).agents.map((a) => a.id).join() === agentB.id, 5_000, 50);
      await moreCalls(load, 100);
      await load.stop();
      const after = load.done.filter((d) => d.at > killedAt);
      console.log(`multihost agent kill: key gone ${keyAfter} ms after the SIGKILL; ${load.done.length} calls (${after.length} after the kill), ${load.failures.length} failed; longest wait for an answer after the kill ${longestGap(load.done, killedAt)} ms`);
      expect(load.failures).toEqual([]);
      expect(after.length).toBeGreaterThanOrEqual(100);
      expect(load.done.filter((d) => d.at > goneAt).every((d) => agentB.workerPids().includes(d.pid))).toBe(true);
      expect(victims.filter(pidAlive)).toEqual([]);
    } finally {
      await load.stop();
    }

    // A clean stop revokes the lease before anything else: the key goes long before a lease would expire.
    expect(await keyExists(agentB)).toBe(true);
    const downAt = Date.now();
    const watching = keyGone(agentB, TTL_MS + 3_000);
    const down = await cli(['down', '--home', agentB.home, '--json']);
    expect(down.code, down.stderr).toBe(0);
    const keyAfter = (await watching) - downAt;
    console.log(`multihost clean down: key gone ${keyAfter} ms after \`down\` was started (the command took ${Date.now() - downAt} ms)`);
    expect(keyAfter).toBeLessThan(TTL_MS - TTL_MS / 3 - 300);
    expect(await keyExists(agentB)).toBe(false);
    await waitFor(async () => (await routerStatus(router)).agents.length === 0, 5_000, 50);
  }, 60_000);
});
