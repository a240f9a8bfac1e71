// Membership in a real etcd (test/helpers/etcd.ts starts one on free loopback ports): agents'
// registrations (EtcdRegistration) as a router's membership (EtcdMembership) sees them, leases
// revoked and expired, hostile values, etcd unreachable at start, stopped and restarted, and a
// link cut (a proxy) while the cluster changes behind it. Registering processes that must die
// uncleanly run in a child (test/fixtures/etcd_register.mjs, from dist) and are SIGKILLed by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AgentLogger } from '../../src/agent/log.js';
import { EtcdMembership } from '../../src/cluster/etcd-membership.js';
import { Router, type AgentConnection } from '../../src/cluster/router.js';
import { EtcdRegistration, type EtcdRegistrationOptions } from '../../src/cluster/etcd-registration.js';
import type { EtcdMember } from '../../src/cluster/etcd-view.js';
import { parseRegistry, type RegistryTimings } from '../../src/cluster/etcd.js';
import type { MemberInfo, MembershipEvents } from '../../src/cluster/local-membership.js';
import { SnakepitError } from '../../src/errors.js';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { makeCerts, type TestCerts } from '../helpers/certs.js';
import { FIXTURES, freePort, killPids, tempDir, waitFor } from '../helpers/env.js';
import { startProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/** Short timeouts and backoff, so outages and recoveries fit in seconds. */
const FAST: RegistryTimings = { timeoutMs: 1_500, retryMs: 100, retryMaxMs: 400, keepaliveMs: 1_000 };
const TTL_MS = 2_000;

let etcd: EtcdServer;
let direct: Etcd3;
const cleanups: Array<() => Promise<void> | void> = [];
let seq = 0;

beforeAll(async () => {
  etcd = await startEtcd();
  direct = new Etcd3({ hosts: `http://${etcd.endpoint}` });
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(async () => {
  direct?.close();
  await etcd?.cleanup();
});

/** A prefix of its own per test: one etcd serves them all. */
const freshPrefix = (): string => `/snakepit-test/${process.pid}-${++seq}/agents/`;

interface Seen {
  type: 'up' | 'down' | 'gone';
  member: MemberInfo;
  why?: string;
  at: number;
}

function recorder(): { events: Seen[]; handlers: MembershipEvents; next(test: (e: Seen) => boolean, since?: number, ms?: number): Promise<Seen> } {
  const events: Seen[] = [];
  const handlers: MembershipEvents = {
    up: (member) => events.push({ type: 'up', member, at: Date.now() }),
    down: (member, why) => events.push({ type: 'down', member, why, at: Date.now() }),
    gone: (member) => events.push({ type: 'gone', member, at: Date.now() }),
  };
  const next = async (test: (e: Seen) => boolean, since = 0, ms = 8_000): Promise<Seen> => {
    let hit: Seen | undefined;
    await waitFor(() => (hit = events.find((e) => e.at >= since && test(e))) !== undefined, ms, 10).catch(() => {
      throw new Error(`no matching membership event within ${ms} ms; seen: ${events.map((e) => `${e.type}:${e.member.id}`).join(', ')}`);
    });
    return hit!;
  };
  return { events, handlers, next };
}

function logLines(): { lines: string[]; logger: AgentLogger } {
  const lines: string[] = [];
  return { lines, logger: { log: (level, source, msg) => lines.push(`${level} [${source}] ${msg}`) } };
}

function membership(prefix: string, endpoint = etcd.endpoint, logger: AgentLogger = logLines().logger): EtcdMembership {
  const m = new EtcdMembership({ registry: parseRegistry({ url: `etcd://${endpoint}` }), prefix, logger, timings: FAST });
  cleanups.push(() => m.stop());
  return m;
}

function registration(prefix: string, id: string, extra: Partial<EtcdRegistrationOptions> & { endpoint?: string } = {}): EtcdRegistration {
  const { endpoint = etcd.endpoint, ...rest } = extra;
  const r = new EtcdRegistration({
    registry: parseRegistry({ url: `etcd://${endpoint}` }),
    prefix,
    leaseTtlMs: TTL_MS,
    timings: FAST,
    logger: logLines().logger,
    agent: { id, address: `127.0.0.1:${7000 + (seq % 1000)}`, capacity: 4, labels: { zone: 'a' } },
    ...rest,
  });
  cleanups.push(() => r.stop());
  return r;
}

async function proxy(): Promise<TcpProxy> {
  const [host, port] = etcd.endpoint.split(':') as [string, string];
  const p = await startProxy(host, Number(port));
  cleanups.push(() => p.close());
  return p;
}

const keyExists = async (key: string): Promise<boolean> => (await direct.get(key).buffer()) !== null;

describe('etcd membership', () => {
  it('sees a registration as up with what the agent registered', async () => {
    const prefix = freshPrefix();
    const reg = registration(prefix, 'host-a-1', { agent: { id: 'host-a-1', address: '10.1.2.3:7443', capacity: 8, labels: { zone: 'a', gpu: 'yes' }, version: '9.9.9', host: 'host-a', pid: 4242 } });
    await reg.start();
    const m = membership(prefix);
    const rec = recorder();
    await m.start(rec.handlers);
    // Registered before start: the initial read gives it.
    const up = await rec.next((e) => e.type === 'up' && e.member.id === 'host-a-1');
    expect(up.member).toMatchObject({ id: 'host-a-1', address: '10.1.2.3:7443', labels: { zone: 'a', gpu: 'yes' }, version: '9.9.9', pid: 4242, host: 'host-a', capacity: 8, state: 'serving' });
    expect(up.member.home).toBeUndefined();
    expect(up.member.lane).toBeUndefined();
    // Registered after start: the watch gives it.
    const reg2 = registration(prefix, 'host-b-1');
    const since = Date.now();
    await reg2.start();
    await rec.next((e) => e.type === 'up' && e.member.id === 'host-b-1', since);
    expect(m.members().map((x) => x.id).sort()).toEqual(['host-a-1', 'host-b-1']);
    expect(m.status()).toMatchObject({ state: 'ok', endpoints: [etcd.endpoint], tls: false, members: 2, lastError: null });
    // Draining is no event (its heartbeats tell the router; it is not down); serving again is up.
    const before = rec.events.length;
    await reg2.setState('draining');
    await waitFor(() => (m.members() as EtcdMember[]).some((x) => x.id === 'host-b-1' && x.state === 'draining'));
    expect(rec.events.slice(before)).toEqual([]);
    await reg2.setState('serving');
    await waitFor(() => rec.events.length > before);
    expect(rec.events.slice(before).map((e) => `${e.type}:${e.member.id}`)).toEqual(['up:host-b-1']);
    expect(JSON.parse((await direct.get(reg2.key).string())!)).toMatchObject({ id: 'host-b-1', state: 'serving', capacity: 4 });
  });

  it('an id a live agent on another host holds is refused (REGISTRY_CONFLICT); this host\'s previous run with a dead pid is taken over', async () => {
    const prefix = freshPrefix();
    const first = registration(prefix, 'dup-1', { agent: { id: 'dup-1', address: '10.0.0.5:7000', capacity: 1, host: 'host-a' } });
    await first.start();
    const second = registration(prefix, 'dup-1', { agent: { id: 'dup-1', address: '10.0.0.6:7000', capacity: 1, host: 'host-b' } });
    const started = Date.now();
    const err = await second.start().then(() => undefined, (e: SnakepitError) => e);
    expect(err?.code).toBe('REGISTRY_CONFLICT');
    expect(err?.message).toMatch(/agent id dup-1 is already registered by a live agent \(host host-a, pid \d+, address 10\.0\.0\.5:7000\).*own home/);
    expect(Date.now() - started).toBeLessThan(1_000); // etcd answered: not retried until the timeout
    // The entry is untouched.
    const kv = new Etcd3({ hosts: etcd.endpoint });
    expect(JSON.parse((await kv.get(`${prefix}dup-1`).string())!)).toMatchObject({ host: 'host-a', address: '10.0.0.5:7000' });
    // A run of this host whose process is gone (its lease not expired yet) is replaced by the next.
    const gone = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => gone.once('exit', r));
    const stale = registration(prefix, 'dup-2', { agent: { id: 'dup-2', address: '127.0.0.1:7001', capacity: 1, pid: gone.pid! } });
    await stale.start();
    const next = registration(prefix, 'dup-2', { agent: { id: 'dup-2', address: '127.0.0.1:7002', capacity: 1 } });
    await next.start();
    expect(JSON.parse((await kv.get(`${prefix}dup-2`).string())!)).toMatchObject({ address: '127.0.0.1:7002', pid: process.pid });
    kv.close();
  });

  it('a clean stop revokes the lease: gone at once', async () => {
    const prefix = freshPrefix();
    const reg = registration(prefix, 'clean-1');
    await reg.start();
    const m = membership(prefix);
    const rec = recorder();
    await m.start(rec.handlers);
    await rec.next((e) => e.type === 'up');
    const t0 = Date.now();
    await reg.stop();
    const gone = await rec.next((e) => e.type === 'gone' && e.member.id === 'clean-1');
    expect(gone.at - t0).toBeLessThan(500); // not the lease's 2 s
    expect(await keyExists(reg.key)).toBe(false);
    expect(m.members()).toEqual([]);
  });

  it('a SIGKILLed agent is gone when its lease expires, not before', async () => {
    const prefix = freshPrefix();
    const m = membership(prefix);
    const rec = recorder();
    await m.start(rec.handlers);
    const child: ChildProcess = spawn(process.execPath, [join(FIXTURES, 'etcd_register.mjs'), etcd.url, prefix, 'killed-1', String(TTL_MS)], { stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(() => killPids([child.pid!]));
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await waitFor(() => out.includes('\n'), 10_000).catch(() => {
      throw new Error(`the registering child did not report: ${err}`);
    });
    expect(JSON.parse(out)).toMatchObject({ state: 'ok', key: `${prefix}killed-1`, written: true });
    await rec.next((e) => e.type === 'up' && e.member.id === 'killed-1');
    const killedAt = Date.now();
    process.kill(child.pid!, 'SIGKILL');
    const gone = await rec.next((e) => e.type === 'gone' && e.member.id === 'killed-1', killedAt, 8_000);
    const after = gone.at - killedAt;
    // The last renewal was at most a third of the TTL before the kill; etcd checks expiry every 500 ms.
    expect(after).toBeGreaterThanOrEqual(TTL_MS - TTL_MS / 3 - 100);
    expect(after).toBeLessThan(TTL_MS + 1_500);
  });

  it('ignores hostile values, each reported once, and keeps serving the good ones', async () => {
    const prefix = freshPrefix();
    const { lines, logger } = logLines();
    const good = JSON.stringify({ id: 'good-1', address: '127.0.0.1:7100', labels: {}, capacity: 1, version: '1', state: 'serving', startedAt: 1, host: 'h' });
    await direct.put(`${prefix}good-1`).value(good);
    await direct.put(`${prefix}garbage`).value('{not json');
    await direct.put(`${prefix}wrong-id`).value(good); // id good-1 under another key
    await direct.put(`${prefix}huge`).value(JSON.stringify({ id: 'huge', pad: 'x'.repeat(100_000) }));
    await direct.put(`${prefix}bad-address`).value(JSON.stringify({ ...JSON.parse(good), id: 'bad-address', address: 'unix:/tmp/evil.sock' }));
    await direct.put(`${prefix}not/an/id`).value(good);
    await direct.put(`${prefix}evil\nWARN forged line`).value('{');
    const m = membership(prefix, etcd.endpoint, logger);
    const rec = recorder();
    await m.start(rec.handlers);
    await rec.next((e) => e.type === 'up' && e.member.id === 'good-1');
    expect(m.members().map((x) => x.id)).toEqual(['good-1']);
    const ignored = (): string[] => lines.filter((l) => l.includes('ignored'));
    expect(ignored()).toHaveLength(6);
    expect(ignored().every((l) => !/[\n\r\u001b]/.test(l))).toBe(true);
    expect(ignored().join('\n')).toMatch(/garbage: value is not JSON/);
    expect(ignored().join('\n')).toMatch(/wrong-id: id 'good-1' differs from the key's last segment 'wrong-id'/);
    expect(ignored().join('\n')).toMatch(/huge: value of \d+ bytes is above registryValueMaxBytes/);
    expect(ignored().join('\n')).toMatch(/bad-address: address: expected HOST:PORT/);
    // A storm of the same bad value: no more lines. A good agent overwritten with garbage is gone.
    for (let i = 0; i < 20; i++) await direct.put(`${prefix}garbage`).value('{not json');
    const since = Date.now();
    await direct.put(`${prefix}good-1`).value('[]');
    await rec.next((e) => e.type === 'gone' && e.member.id === 'good-1', since);
    expect(ignored()).toHaveLength(7);
    expect(rec.events.filter((e) => e.type === 'up')).toHaveLength(1);
    expect(m.status().state).toBe('ok');
  });

  it('fails in bounded time with REGISTRY_UNAVAILABLE naming the endpoints when etcd is unreachable at start', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const registry = parseRegistry({ url: `etcd://127.0.0.1:${p1},127.0.0.1:${p2}` });
    const timings = { ...FAST, timeoutMs: 1_000 };
    const m = new EtcdMembership({ registry, logger: logLines().logger, timings, prefix: freshPrefix() });
    // Tried for the whole timeout (an etcd that is restarting is waited for), not longer.
    let t0 = Date.now();
    const err = await m.start(recorder().handlers).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(Date.now() - t0).toBeLessThan(2_500);
    expect(err).toBeInstanceOf(SnakepitError);
    expect(err).toMatchObject({ code: 'REGISTRY_UNAVAILABLE' });
    expect((err as Error).message).toContain(`127.0.0.1:${p1}, 127.0.0.1:${p2}`);
    await m.stop();
    const r = new EtcdRegistration({ registry, logger: logLines().logger, timings, prefix: freshPrefix(), agent: { id: 'nowhere', address: '127.0.0.1:7001', capacity: 1 } });
    t0 = Date.now();
    const err2 = await r.start().catch((e: unknown) => e);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(Date.now() - t0).toBeLessThan(2_500);
    expect(err2).toMatchObject({ code: 'REGISTRY_UNAVAILABLE' });
    expect((err2 as Error).message).toMatch(new RegExp(`etcd is not reachable at 127\\.0\\.0\\.1:${p1}, 127\\.0\\.0\\.1:${p2}`));
    await r.stop();
  });

  it('drives a router: registered agents join (dialled at their address), revoked ones leave', async () => {
    const prefix = freshPrefix();
    const a = registration(prefix, 'ra-1', { agent: { id: 'ra-1', address: '10.9.0.1:7000', capacity: 2, labels: { zone: 'a' } } });
    await a.start();
    const m = membership(prefix);
    const dialled: string[] = [];
    // The agents' Agent API over TCP is not this test's: a connection that answers heartbeats.
    const connectAgent = (info: MemberInfo): AgentConnection => {
      dialled.push(`${info.id}@${info.address}`);
      return {
        call: () => ({ cancel: () => undefined }),
        tools: async () => [{ name: 't', doc: '', params: [], stream: false, pool: 'default' }],
        stats: async () => ({ pools: [{ name: 'default', affinity: 'hint' }] }) as never,
        drain: async () => true,
        reload: async () => ({ replaced: 0, changes: [] }),
        restartWorker: async () => undefined,
        watch: () => () => undefined,
        heartbeats: (_ms, onBeat) => {
          const beat = (): void => onBeat({ agent: info.id, seq: 1, inFlight: 0, queueDepth: 0, capacity: 2, sessions: 0, serving: true });
          beat();
          const timer = setInterval(beat, 100);
          return () => clearInterval(timer);
        },
        close: () => undefined,
      };
    };
    const router = new Router({ id: 'router-1', membership: m, logger: logLines().logger, connectAgent, heartbeatMs: 100 });
    cleanups.push(() => router.shutdown());
    await router.start();
    const agents = async (): Promise<string[]> => (await router.stats()).agents!.map((x) => `${x.id}:${x.state}:${x.labels.zone}`).sort();
    expect(await agents()).toEqual(['ra-1:alive:a']);
    const b = registration(prefix, 'rb-1', { agent: { id: 'rb-1', address: '10.9.0.2:7000', capacity: 2, labels: { zone: 'b' } } });
    await b.start();
    await waitFor(async () => (await agents()).includes('rb-1:alive:b'));
    await a.stop();
    await waitFor(async () => (await agents()).join() === 'rb-1:alive:b');
    expect(dialled).toEqual(['ra-1@10.9.0.1:7000', 'rb-1@10.9.0.2:7000']);
    await expect(router.cluster({ op: 'scale', count: 3 })).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('a start waits for an etcd that comes up within registryTimeoutMs', async () => {
    const prefix = freshPrefix();
    await etcd.stop();
    const patient = { ...FAST, timeoutMs: 6_000 };
    const reg = registration(prefix, 'early-1', { timings: patient });
    const m = new EtcdMembership({ registry: parseRegistry({ url: etcd.url }), prefix, logger: logLines().logger, timings: patient });
    cleanups.push(() => m.stop());
    const rec = recorder();
    const starts = Promise.all([reg.start(), m.start(rec.handlers)]);
    await new Promise((r) => setTimeout(r, 500));
    await etcd.restart();
    await starts;
    await rec.next((e) => e.type === 'up' && e.member.id === 'early-1');
  });

  it('scale is refused; hold keeps a drained agent from coming back up until release', async () => {
    const prefix = freshPrefix();
    const reg = registration(prefix, 'held-1');
    await reg.start();
    const m = membership(prefix);
    const rec = recorder();
    await m.start(rec.handlers);
    await rec.next((e) => e.type === 'up');
    await expect(m.scale(3)).rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining('started on their own hosts') });
    expect(() => m.hold('nobody')).toThrow(/no agent 'nobody' registered in etcd \(agents: held-1\)/);
    m.hold('held-1');
    const before = rec.events.length;
    await reg.setState('draining');
    await waitFor(() => (m.members() as EtcdMember[])[0]?.state === 'draining');
    await reg.setState('serving');
    await waitFor(() => (m.members() as EtcdMember[])[0]?.state === 'serving');
    await new Promise((r) => setTimeout(r, 100));
    expect(rec.events.slice(before)).toEqual([]);
    m.release('held-1');
    expect(rec.events.slice(before).map((e) => `${e.type}:${e.member.id}`)).toEqual(['up:held-1']);
  });

  it('etcd stopped and restarted: the last view is kept while degraded; both sides recover', async () => {
    const prefix = freshPrefix();
    const { lines, logger } = logLines();
    const reg = registration(prefix, 'steady-1');
    await reg.start();
    const lease = reg.status().lease;
    const m = membership(prefix, etcd.endpoint, logger);
    const rec = recorder();
    await m.start(rec.handlers);
    await rec.next((e) => e.type === 'up');
    const view = m.members();
    await etcd.stop();
    await waitFor(() => m.status().state === 'degraded', 5_000);
    await waitFor(() => reg.status().state === 'degraded', 5_000);
    expect(m.members()).toEqual(view);
    expect(m.status().lastError).toBeTruthy();
    // A state change while etcd is down is written once it is back.
    await reg.update({ capacity: 9 });
    expect(reg.status().written).toBe(false);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(m.members()).toEqual(view);
    expect(lines.filter((l) => l.includes('etcd lost'))).toHaveLength(1);
    await etcd.restart();
    await waitFor(() => m.status().state === 'ok', 8_000);
    await waitFor(() => reg.status().state === 'ok' && reg.status().written, 8_000);
    expect(JSON.parse((await direct.get(reg.key).string())!)).toMatchObject({ capacity: 9 });
    // etcd kept its data (and restored the lease's TTL): the same lease goes on.
    expect(reg.status().lease).toBe(lease);
    expect(rec.events.filter((e) => e.type === 'gone')).toEqual([]);
    // The watch works again: a new agent is seen.
    const since = Date.now();
    await registration(prefix, 'later-1').start();
    await rec.next((e) => e.type === 'up' && e.member.id === 'later-1', since);
    expect(lines.filter((l) => l.includes('etcd is back'))).toHaveLength(1);
  });

  it('etcd restarted empty (its data lost): agents register again, routers see them again', async () => {
    const prefix = freshPrefix();
    const reg = registration(prefix, 'reborn-1');
    await reg.start();
    const lease = reg.status().lease;
    const m = membership(prefix);
    const rec = recorder();
    await m.start(rec.handlers);
    await rec.next((e) => e.type === 'up');
    const since = Date.now();
    await etcd.restart({ wipe: true });
    // The new etcd does not know the lease: the agent gets a new one and writes its key again.
    await waitFor(() => reg.status().state === 'ok' && reg.status().lease !== lease && reg.status().written, 10_000);
    expect(await keyExists(reg.key)).toBe(true);
    await waitFor(() => m.status().state === 'ok' && m.members().some((x) => x.id === 'reborn-1'), 10_000);
    // The read after reconnecting may have seen the key gone (gone, then up again) or back already.
    const after = rec.events.filter((e) => e.at >= since).map((e) => e.type);
    expect(after.filter((t) => t !== 'gone' && t !== 'up')).toEqual([]);
    if (after.includes('gone')) expect(after.at(-1)).toBe('up');
  });

  it('a router cut off from etcd reconciles when the link is back: who left is gone, who came is up', async () => {
    const prefix = freshPrefix();
    const link = await proxy();
    const leaving = registration(prefix, 'leaving-1');
    const staying = registration(prefix, 'staying-1');
    await leaving.start();
    await staying.start();
    const m = membership(prefix, link.endpoint);
    const rec = recorder();
    await m.start(rec.handlers);
    await rec.next((e) => e.type === 'up' && e.member.id === 'staying-1');
    link.cut();
    await waitFor(() => m.status().state === 'degraded', 5_000);
    await leaving.stop();
    await registration(prefix, 'arrived-1').start();
    await new Promise((r) => setTimeout(r, 300));
    expect(m.members().map((x) => x.id).sort()).toEqual(['leaving-1', 'staying-1']);
    const since = Date.now();
    link.restore();
    await rec.next((e) => e.type === 'gone' && e.member.id === 'leaving-1', since);
    await rec.next((e) => e.type === 'up' && e.member.id === 'arrived-1', since);
    await waitFor(() => m.status().state === 'ok');
    expect(m.members().map((x) => x.id).sort()).toEqual(['arrived-1', 'staying-1']);
    expect(rec.events.filter((e) => e.at >= since && e.member.id === 'staying-1')).toEqual([]);
  });

  it('a link that silently drops everything (no reset) is noticed by the keepalives, and recovers', async () => {
    const prefix = freshPrefix();
    const link = await proxy();
    const reg = registration(prefix, 'silent-1', { endpoint: link.endpoint });
    await reg.start();
    const m = membership(prefix, link.endpoint);
    const rec = recorder();
    await m.start(rec.handlers);
    await rec.next((e) => e.type === 'up');
    const t0 = Date.now();
    link.blackhole();
    // The router's watch: a gRPC keepalive ping unanswered (1 s interval + 1.5 s timeout). The
    // agent's lease: etcd3 gives up on a keepalive stream silent for one TTL (2 s).
    await waitFor(() => m.status().state === 'degraded', 6_000);
    const routerSaw = Date.now() - t0;
    await waitFor(() => reg.status().state === 'degraded', 6_000);
    expect(routerSaw).toBeLessThan(5_000);
    expect(m.members().map((x) => x.id)).toEqual(['silent-1']);
    link.restore();
    await waitFor(() => m.status().state === 'ok' && reg.status().state === 'ok', 10_000);
    // On a loaded machine the blackhole can outlast the lease (2 s): etcd drops the key, the
    // router reconciles it away, and the agent registers again right after. Either way it is back.
    await waitFor(() => m.members().some((x) => x.id === 'silent-1'), 10_000);
    expect(m.members().map((x) => x.id)).toEqual(['silent-1']);
  });

  it('an agent cut off until its lease expired registers again with a new lease', async () => {
    const prefix = freshPrefix();
    const link = await proxy();
    const { lines, logger } = logLines();
    const reg = registration(prefix, 'cutoff-1', { endpoint: link.endpoint, logger });
    await reg.start();
    const firstLease = reg.status().lease;
    const m = membership(prefix);
    const rec = recorder();
    await m.start(rec.handlers);
    await rec.next((e) => e.type === 'up');
    const cutAt = Date.now();
    link.cut();
    // etcd expires the lease: routers forget the agent; the agent keeps its state.
    await rec.next((e) => e.type === 'gone', cutAt, 6_000);
    await waitFor(() => reg.status().state === 'degraded');
    await reg.setState('draining');
    const since = Date.now();
    link.restore();
    await waitFor(() => reg.status().state === 'ok' && reg.status().written, 10_000);
    expect(reg.status().lease).not.toBe(firstLease);
    expect(JSON.parse((await direct.get(reg.key).string())!)).toMatchObject({ id: 'cutoff-1', state: 'draining' });
    // Back in the routers' view, but draining: no `up` (it takes no new calls).
    await waitFor(() => (m.members() as EtcdMember[]).some((x) => x.id === 'cutoff-1' && x.state === 'draining'));
    expect(rec.events.filter((e) => e.at >= since)).toEqual([]);
    // Still there a lease TTL later: the key is under the new lease, which is renewed.
    await new Promise((r) => setTimeout(r, TTL_MS + 500));
    expect(await keyExists(reg.key)).toBe(true);
    expect(lines.filter((l) => l.includes('etcd lost'))).toHaveLength(1);
  });
});

describe('etcd membership over TLS (certificates made by openssl)', () => {
  let certs: TestCerts;
  let dir: { path: string; cleanup(): void };
  let secure: EtcdServer;

  beforeAll(async () => {
    dir = tempDir('sp-certs-');
    certs = makeCerts(dir.path);
    secure = await startEtcd({ tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, clientCert: certs.clientCert, clientKey: certs.clientKey } });
  });

  afterAll(async () => {
    await secure?.cleanup();
    dir?.cleanup();
  });

  it('registers and watches with the registry CA and a client certificate; refuses without them', async () => {
    const prefix = freshPrefix();
    const registry = parseRegistry({ url: `etcd://${secure.endpoint}`, ca: certs.ca, cert: certs.clientCert, key: certs.clientKey });
    expect(registry.tls).not.toBeNull();
    const reg = new EtcdRegistration({ registry, prefix, leaseTtlMs: TTL_MS, timings: FAST, logger: logLines().logger, agent: { id: 'tls-1', address: '127.0.0.1:7443', capacity: 1 } });
    cleanups.push(() => reg.stop());
    await reg.start();
    const m = new EtcdMembership({ registry, prefix, logger: logLines().logger, timings: FAST });
    cleanups.push(() => m.stop());
    const rec = recorder();
    await m.start(rec.handlers);
    await rec.next((e) => e.type === 'up' && e.member.id === 'tls-1');
    expect(m.status()).toMatchObject({ state: 'ok', tls: true });
    // Plaintext to a TLS etcd, a CA that did not sign its certificate, or no client certificate: no start.
    const timings = { ...FAST, timeoutMs: 1_000 };
    for (const bad of [{ url: `etcd://${secure.endpoint}` }, { url: `etcd://${secure.endpoint}`, ca: certs.otherCa, cert: certs.clientCert, key: certs.clientKey }, { url: `etcd://${secure.endpoint}`, ca: certs.ca }]) {
      const other = new EtcdMembership({ registry: parseRegistry(bad), prefix, logger: logLines().logger, timings });
      const err = await other.start(recorder().handlers).catch((e: unknown) => e);
      expect(err, JSON.stringify(bad)).toMatchObject({ code: 'REGISTRY_UNAVAILABLE' });
      expect((err as Error).message).toContain(secure.endpoint);
      await other.stop();
    }
  });
});
