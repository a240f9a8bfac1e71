// The pure parts of the etcd membership, on synthetic input: `--registry` URLs and TLS files,
// HOST:PORT, the checks every value read from etcd goes through, the view's changes (what the
// router is told), the link state's once-only reports, and the client's bounded-call options.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeEntry, parseEntry, type AgentEntry } from '../../src/cluster/etcd-entry.js';
import { RegistryView } from '../../src/cluster/etcd-view.js';
import { RegistryLink, etcdOptions, parseRegistry, parseRegistryUrl, registryUnavailable, retryWithin } from '../../src/cluster/etcd.js';
import { parseHostPort } from '../../src/cluster/host-port.js';
import { DEFAULTS } from '../../src/defaults.js';
import { registryWarning } from '../../src/cli/commands/up.js';

const P = '/snakepit/v1/agents/';
const entry = (over: Partial<AgentEntry> = {}): AgentEntry => ({ id: 'a-1', address: '10.0.0.1:7000', labels: { zone: 'x' }, capacity: 2, version: '0.1.0', state: 'serving', startedAt: 1_700_000_000_000, pid: 42, host: 'host-a', ...over });
const bytes = (v: unknown): Buffer => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

describe('parseHostPort', () => {
  it.each([
    ['127.0.0.1:2379', { host: '127.0.0.1', port: 2379 }],
    ['etcd-1.example.com:2379', { host: 'etcd-1.example.com', port: 2379 }],
    ['localhost:1', { host: 'localhost', port: 1 }],
    ['[::1]:2379', { host: '::1', port: 2379 }],
    ['[fe80::1]:65535', { host: 'fe80::1', port: 65535 }],
  ])('accepts %s', (text, hp) => {
    expect(parseHostPort(text)).toEqual(hp);
  });

  it.each([
    ['', 'got nothing'],
    ['127.0.0.1', 'has no port'],
    ['127.0.0.1:0', 'not a number from 1 to 65535'],
    ['127.0.0.1:65536', 'not a number from 1 to 65535'],
    ['127.0.0.1:+80', 'not a number'],
    ['999.1.1.1:80', 'no host name or IPv4 address'],
    ['::1:2379', 'put it in brackets'],
    ['[::1]', 'no port after'],
    ['[nope]:80', 'no IPv6 address'],
    ['unix:/tmp/x.sock', "the port '/tmp/x.sock'"],
    ['a b:80', 'no host name'],
    ['-bad-.com:80', 'no host name'],
    ['user@host:80', 'no host name'],
  ])('refuses %j (%s)', (text, why) => {
    const out = parseHostPort(text);
    expect(typeof out).toBe('string');
    expect(out).toContain(why);
  });
});

describe('parseRegistryUrl', () => {
  it('takes one or more endpoints; etcd:// is plaintext, etcds:// TLS', () => {
    expect(parseRegistryUrl('etcd://127.0.0.1:2379')).toEqual({ endpoints: ['127.0.0.1:2379'], tls: false });
    expect(parseRegistryUrl(' etcd://a:1,b:2,[::1]:3/ ')).toEqual({ endpoints: ['a:1', 'b:2', '[::1]:3'], tls: false });
    expect(parseRegistryUrl('ETCDS://etcd.example.com:2379')).toEqual({ endpoints: ['etcd.example.com:2379'], tls: true });
  });

  it.each([
    ['127.0.0.1:2379', 'does not start with etcd:// or etcds://'],
    ['http://127.0.0.1:2379', "the scheme 'http://' is not etcd:// or etcds://"],
    ['etcd://', 'names no endpoint'],
    ['etcd://a:1,,b:2', 'endpoint got nothing'],
    ['etcd://a:1,a:1', 'the endpoint a:1 is named twice'],
    ['etcd://user:pw@a:1', 'path, query, user name or space'],
    ['etcd://a:1/prefix', 'path, query, user name or space'],
    ['etcd://a', "'a' has no port"],
    ['etcd://a:99999', "the port '99999'"],
  ])('refuses %j with CONFIG_INVALID naming the problem', (url, why) => {
    let err: unknown;
    try {
      parseRegistryUrl(url);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'CONFIG_INVALID' });
    expect((err as Error).message).toContain(why);
    expect((err as Error).message).toContain('expected etcd://HOST:PORT');
  });
});

describe('parseRegistry (TLS files)', () => {
  const CERT = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const KEY = Buffer.from('-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n');
  const files: Record<string, Buffer> = { '/ca.pem': CERT, '/c.pem': CERT, '/k.pem': KEY, '/junk': Buffer.from('hello') };
  const read = (path: string): Buffer => {
    const f = files[path];
    if (!f) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return f;
  };

  it('plaintext without files; TLS with etcds:// or with any file', () => {
    expect(parseRegistry({ url: 'etcd://a:1' }, read)).toEqual({ endpoints: ['a:1'], tls: null });
    expect(parseRegistry({ url: 'etcds://a:1' }, read)).toEqual({ endpoints: ['a:1'], tls: {} });
    expect(parseRegistry({ url: 'etcd://a:1', ca: '/ca.pem' }, read)).toEqual({ endpoints: ['a:1'], tls: { ca: CERT } });
    expect(parseRegistry({ url: 'etcd://a:1', ca: '/ca.pem', cert: '/c.pem', key: '/k.pem' }, read).tls).toEqual({ ca: CERT, cert: CERT, key: KEY });
  });

  it.each([
    [{ cert: '/c.pem' }, '--registry-cert needs --registry-key'],
    [{ key: '/k.pem' }, '--registry-key needs --registry-cert'],
    [{ ca: '/missing.pem' }, 'cannot read --registry-ca /missing.pem: no such file'],
    [{ ca: '/junk' }, '--registry-ca /junk is not a PEM certificate'],
    [{ cert: '/c.pem', key: '/c.pem' }, '--registry-key /c.pem is not a PEM private key'],
  ])('refuses %j', (tlsFiles, why) => {
    expect(() => parseRegistry({ url: 'etcd://a:1', ...tlsFiles }, read)).toThrow(why);
  });

  it('reads the real files under the trust rules: a FIFO or a device is refused without blocking, the client key must be private', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sp-regfiles-'));
    try {
      const f = (n: string): string => join(dir, n);
      writeFileSync(f('ca.pem'), CERT, { mode: 0o644 });
      writeFileSync(f('c.pem'), CERT, { mode: 0o644 });
      writeFileSync(f('k.pem'), KEY, { mode: 0o600 });
      writeFileSync(f('open.key'), KEY, { mode: 0o644 });
      execFileSync('mkfifo', ['-m', '600', f('fifo')]);
      symlinkSync('/dev/zero', f('zero'));
      expect(parseRegistry({ url: 'etcd://a:1', ca: f('ca.pem'), cert: f('c.pem'), key: f('k.pem') }).tls).toEqual({ ca: CERT, cert: CERT, key: KEY });
      const refusal = (o: object): string => {
        try {
          parseRegistry({ url: 'etcd://a:1', ...o });
        } catch (err) {
          return `${(err as { code: string }).code}: ${(err as Error).message}`;
        }
        return 'accepted';
      };
      // Before: a client key anyone could read was used as is.
      expect(refusal({ cert: f('c.pem'), key: f('open.key') })).toMatch(/^FILE_UNSAFE: --registry-key .*open\.key is readable or writable by group or others .*chmod 600/);
      // Before: readFileSync blocked on the FIFO for ever and read /dev/zero until memory ran out.
      expect(refusal({ ca: f('fifo') })).toMatch(/^FILE_UNSAFE: --registry-ca .*fifo is not a regular file/);
      expect(refusal({ ca: f('zero') })).toMatch(/^FILE_UNSAFE: --registry-ca .*zero \(a link to \/dev\/zero\) is not a regular file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bounds every call (deadline on unary calls, none on streams), retries once per endpoint, reconnects with our backoff', () => {
    const o = etcdOptions({ endpoints: ['a:1', 'b:2'], tls: null }, { timeoutMs: 1234, retryMs: 50, retryMaxMs: 900, keepaliveMs: 7000 });
    expect(o.hosts).toEqual(['http://a:1', 'http://b:2']);
    const callOpts = o.defaultCallOptions as (ctx: { isStream: boolean }) => { deadline?: number };
    const before = Date.now();
    expect(callOpts({ isStream: false }).deadline).toBeGreaterThanOrEqual(before + 1234);
    expect(callOpts({ isStream: true })).toEqual({});
    expect(o.grpcOptions).toMatchObject({ 'grpc.keepalive_time_ms': 7000, 'grpc.keepalive_timeout_ms': 1234, 'grpc.initial_reconnect_backoff_ms': 50, 'grpc.max_reconnect_backoff_ms': 900 });
    expect(o.credentials).toBeUndefined();
    const tls = etcdOptions({ endpoints: ['a:1'], tls: { ca: Buffer.from('ca') } });
    expect(tls.hosts).toEqual(['https://a:1']);
    expect(tls.credentials?.rootCertificate.toString()).toBe('ca');
  });

  it('a whole call to an etcd that never answers fails at the timeout, retries included', async () => {
    const o = etcdOptions({ endpoints: ['a:1'], tls: null }, { timeoutMs: 100 });
    const t0 = Date.now();
    await expect(o.faultHandling!.global!.execute(() => new Promise(() => undefined))).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('REGISTRY_UNAVAILABLE names every endpoint, the last error, and what to check for the TLS setup given', () => {
    const cause = new Error('14 UNAVAILABLE: No connection established. Last error: Failed to connect. Resolution note:\nmore');
    const plain = registryUnavailable({ endpoints: ['a:1', 'b:2'], tls: null }, 5000, cause);
    expect(plain.code).toBe('REGISTRY_UNAVAILABLE');
    expect(plain.message).toBe(
      'etcd is not reachable at a:1, b:2 (tried for 5000 ms; last error: 14 UNAVAILABLE: No connection established. Last error: Failed to connect.); check that etcd runs there, if etcd serves TLS, give --registry-ca (or use etcds://); or fix --registry',
    );
    expect(registryUnavailable({ endpoints: ['a:1'], tls: { ca: Buffer.from('x') } }, 1, cause).message).toContain(
      'that it serves TLS with a certificate the registry CA (--registry-ca) signed for the address named; if etcd requires client certificates, give --registry-cert and --registry-key',
    );
    expect(registryUnavailable({ endpoints: ['a:1'], tls: { cert: Buffer.from('x'), key: Buffer.from('k') } }, 1, cause).message).not.toContain('--registry-cert');
    expect(registryUnavailable({ endpoints: ['a:1'], tls: {} }, 1, cause).message).toContain("one of the system's CAs (else give --registry-ca)");
  });

  it('retryWithin tries again with backoff until the budget is spent, then rejects with the last failure', async () => {
    let n = 0;
    await expect(retryWithin(2_000, { retryMs: 10, retryMaxMs: 20 }, async () => (++n < 3 ? Promise.reject(new Error(`try ${n}`)) : 'ok'))).resolves.toBe('ok');
    expect(n).toBe(3);
    const t0 = Date.now();
    const left: number[] = [];
    await expect(retryWithin(300, { retryMs: 20, retryMaxMs: 40 }, async (ms) => (left.push(ms), Promise.reject(new Error(`try ${left.length}`))))).rejects.toThrow(/^try \d+$/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(Date.now() - t0).toBeLessThan(600);
    expect(left.length).toBeGreaterThan(3);
    expect(left.every((ms, i) => i === 0 || ms < left[i - 1]!)).toBe(true); // each try gets what is left
  });

  it('retryWithin reports the last failure that says something, not a final try cut short by the budget', async () => {
    // e.g. etcds:// against a plaintext etcd: each try fails with the TLS error, then the last try has 1 ms left.
    let n = 0;
    const tries = (ms: number): Promise<never> => Promise.reject(new Error(++n > 1 && ms < 30 ? `no answer within ${ms} ms` : 'TLS handshake failed: wrong version number'));
    await expect(retryWithin(200, { retryMs: 20, retryMaxMs: 40 }, tries)).rejects.toThrow('TLS handshake failed: wrong version number');
    await expect(retryWithin(100, { retryMs: 20, retryMaxMs: 40 }, async (ms) => Promise.reject(new Error(`no answer within ${ms} ms`)))).rejects.toThrow(/^no answer within \d+ ms$/);
  });
});

describe('parseEntry: a value read from etcd is hostile', () => {
  it('accepts a good entry (unknown fields ignored) and canonicalises its address', () => {
    const out = parseEntry(P, `${P}a-1`, bytes({ ...entry({ address: '[::1]:7000' }), extra: { future: true } }));
    expect(out).toEqual({ ok: true, entry: entry({ address: '[::1]:7000' }) });
    const noPid = entry();
    delete noPid.pid;
    expect(parseEntry(P, `${P}a-1`, bytes(noPid))).toEqual({ ok: true, entry: noPid });
  });

  it.each([
    ['not under the prefix', '/other/a-1', bytes(entry()), 'not under'],
    ['a key with more segments', `${P}x/a-1`, bytes(entry()), "the key's last segment"],
    ['an id that differs from the key', `${P}a-2`, bytes(entry()), "id 'a-1' differs from the key's last segment 'a-2'"],
    ['garbage', `${P}a-1`, bytes('{"id": '), 'not JSON'],
    ['binary', `${P}a-1`, Buffer.from([0xff, 0xfe, 0x00]), 'not JSON'],
    ['an array', `${P}a-1`, bytes([entry()]), 'not a JSON object'],
    ['null', `${P}a-1`, bytes('null'), 'not a JSON object'],
    ['a huge value', `${P}a-1`, bytes({ ...entry(), pad: 'x'.repeat(DEFAULTS.registryValueMaxBytes) }), 'above registryValueMaxBytes'],
    ['a path as address', `${P}a-1`, bytes(entry({ address: 'unix:/run/evil.sock' })), 'address: expected HOST:PORT'],
    ['an address without port', `${P}a-1`, bytes(entry({ address: 'evil.example.com' })), 'address: expected HOST:PORT'],
    ['a number as address', `${P}a-1`, bytes({ ...entry(), address: 7000 }), 'address is not a string'],
    ['labels as a list', `${P}a-1`, bytes({ ...entry(), labels: ['a'] }), 'labels is not an object'],
    ['a label with a number value', `${P}a-1`, bytes({ ...entry(), labels: { zone: 1 } }), "label 'zone' is not a string"],
    ['a label with a bad name', `${P}a-1`, bytes({ ...entry(), labels: { 'a b': 'x' } }), "label name 'a b'"],
    ['too many labels', `${P}a-1`, bytes({ ...entry(), labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`l${i}`, 'x'])) }), '65 labels'],
    ['a negative capacity', `${P}a-1`, bytes(entry({ capacity: -1 })), 'capacity'],
    ['a fractional capacity', `${P}a-1`, bytes(entry({ capacity: 1.5 })), 'capacity'],
    ['an unknown state', `${P}a-1`, bytes({ ...entry(), state: 'dancing' }), 'state is not one of starting, serving, draining, stopping'],
    ['a string startedAt', `${P}a-1`, bytes({ ...entry(), startedAt: 'now' }), 'startedAt'],
    ['a zero pid', `${P}a-1`, bytes(entry({ pid: 0 })), 'pid is not a positive integer'],
    ['a missing host', `${P}a-1`, bytes({ ...entry(), host: undefined }), 'host is not a short printable string'],
    ['a host with escapes', `${P}a-1`, bytes(entry({ host: 'h\u001b[2J' })), 'host is not a short printable string'],
    ['a version with a newline', `${P}a-1`, bytes(entry({ version: '1\nFAKE LOG LINE' })), 'version is not a short printable string'],
    ['a label value with a bell', `${P}a-1`, bytes(entry({ labels: { zone: 'a\u0007' } })), "label 'zone' is not a string of at most 256 printable"],
    ['a proto-polluting id', `${P}__proto__`, bytes({ ...entry(), id: '__proto__' }), 'agent id'],
  ])('ignores %s', (_name, key, value, why) => {
    const out = parseEntry(P, key, value);
    expect(out.ok).toBe(false);
    expect(out.ok ? '' : out.why).toContain(why);
  });

  it('encodeEntry refuses what routers would ignore, as CONFIG_INVALID at the agent', () => {
    expect(JSON.parse(encodeEntry(entry()))).toEqual(entry());
    expect(() => encodeEntry(entry({ address: 'localhost' }))).toThrow(/advertised address: expected HOST:PORT, 'localhost' has no port/);
    expect(() => encodeEntry(entry({ id: 'bad id' }))).toThrow(/agent id 'bad id'/);
    expect(() => encodeEntry(entry({ labels: { big: 'x'.repeat(200) } }), 100)).toThrow(/above registryValueMaxBytes \(100\)/);
  });
});

describe('RegistryView: what the router is told', () => {
  const kv = (e: Partial<AgentEntry>): { key: string; value: Buffer } => ({ key: `${P}${e.id ?? 'a-1'}`, value: bytes(entry(e)) });
  const summary = (changes: ReturnType<RegistryView['put']>): string[] => changes.map((c) => (c.type === 'ignored' ? `ignored:${c.key.slice(P.length)}` : `${c.type}:${c.member.id}`));

  it('up once per serving agent; nothing while it drains (its heartbeats say so; it is not down); up again when serving', () => {
    const v = new RegistryView(P);
    expect(summary(v.put(kv({}).key, kv({}).value))).toEqual(['up:a-1']);
    expect(summary(v.put(kv({ capacity: 8 }).key, kv({ capacity: 8 }).value))).toEqual([]); // load-ish changes: the heartbeats say it
    expect(summary(v.put(kv({ state: 'draining' }).key, kv({ state: 'draining' }).value))).toEqual([]);
    expect(v.members()).toMatchObject([{ id: 'a-1', state: 'draining' }]);
    expect(summary(v.put(kv({ state: 'stopping' }).key, kv({ state: 'stopping' }).value))).toEqual([]);
    expect(summary(v.put(kv({}).key, kv({}).value))).toEqual(['up:a-1']);
    expect(v.members()).toMatchObject([{ id: 'a-1', address: '10.0.0.1:7000', labels: { zone: 'x' }, capacity: 2, state: 'serving', host: 'host-a', pid: 42, workerPids: [], restarts: 0 }]);
  });

  it('up again when the router must reconnect: another address, labels or process', () => {
    const v = new RegistryView(P);
    v.put(kv({}).key, kv({}).value);
    for (const change of [{ address: '10.0.0.2:7000' }, { labels: { zone: 'y' } }, { startedAt: 2 }, { pid: 43 }]) {
      expect(summary(v.put(kv(change).key, kv(change).value))).toEqual(['up:a-1']);
    }
  });

  it('a starting agent is a member but not up until it serves', () => {
    const v = new RegistryView(P);
    expect(summary(v.put(kv({ state: 'starting' }).key, kv({ state: 'starting' }).value))).toEqual([]);
    expect(v.members()).toHaveLength(1);
    expect(summary(v.put(kv({}).key, kv({}).value))).toEqual(['up:a-1']);
  });

  it('gone on delete, and when a good value is overwritten with a bad one', () => {
    const v = new RegistryView(P);
    v.put(kv({}).key, kv({}).value);
    v.put(kv({ id: 'b-1' }).key, kv({ id: 'b-1' }).value);
    expect(summary(v.delete(`${P}a-1`))).toEqual(['gone:a-1']);
    expect(summary(v.delete(`${P}a-1`))).toEqual([]);
    expect(summary(v.put(`${P}b-1`, bytes('oops')))).toEqual(['ignored:b-1', 'gone:b-1']);
    expect(v.members()).toEqual([]);
  });

  it('reports a bad key once per reason, however often it is rewritten; again after it was fixed and broken', () => {
    const v = new RegistryView(P);
    expect(summary(v.put(`${P}x`, bytes('oops')))).toEqual(['ignored:x']);
    for (let i = 0; i < 100; i++) expect(v.put(`${P}x`, bytes('oops'))).toEqual([]);
    expect(summary(v.put(`${P}x`, bytes('[]')))).toEqual(['ignored:x']); // another reason
    v.delete(`${P}x`);
    expect(summary(v.put(`${P}x`, bytes('[]')))).toEqual(['ignored:x']);
  });

  it('bounds what it remembers of bad keys: past the cap, one line in all', () => {
    const v = new RegistryView(P);
    let lines = 0;
    for (let i = 0; i < 1_500; i++) lines += v.put(`${P}bad-${i}`, bytes('oops')).length;
    expect(lines).toBe(1_001);
  });

  it('reset reconciles with a snapshot: vanished agents gone, new ones up, unchanged ones quiet', () => {
    const v = new RegistryView(P);
    v.reset([kv({ id: 'a-1' }), kv({ id: 'b-1' })]);
    expect(summary(v.reset([kv({ id: 'b-1' }), kv({ id: 'c-1' })]))).toEqual(['gone:a-1', 'up:c-1']);
    expect(v.members().map((m) => m.id).sort()).toEqual(['b-1', 'c-1']);
  });

  it('a held agent gets no up until released; a gone one forgets its hold', () => {
    const v = new RegistryView(P);
    v.put(kv({}).key, kv({}).value);
    expect(v.hold('nobody')).toBe(false);
    expect(v.hold('a-1')).toBe(true);
    expect(summary(v.put(kv({ state: 'draining' }).key, kv({ state: 'draining' }).value))).toEqual([]);
    expect(summary(v.put(kv({}).key, kv({}).value))).toEqual([]);
    expect(summary(v.release('a-1'))).toEqual(['up:a-1']);
    expect(summary(v.release('a-1'))).toEqual([]);
    v.hold('a-1');
    v.delete(`${P}a-1`);
    expect(summary(v.put(kv({}).key, kv({}).value))).toEqual(['up:a-1']);
  });
});

describe('RegistryLink', () => {
  it('reports lost and back once each, keeping the latest error', () => {
    let t = 1000;
    const changes: string[] = [];
    const link = new RegistryLink({ endpoints: ['a:1'], tls: null }, (s, was) => changes.push(`${was}->${s.state}@${s.since}`), () => t);
    link.back();
    t = 2000;
    link.lost(new Error('first\nsecond line'));
    t = 3000;
    link.lost(new Error('again'));
    expect(link.status).toMatchObject({ state: 'degraded', since: 2000, lastError: 'again', endpoints: ['a:1'], tls: false });
    t = 4000;
    link.back();
    link.back();
    expect(changes).toEqual(['ok->degraded@2000', 'degraded->ok@4000']);
    expect(link.status).toMatchObject({ state: 'ok', since: 4000, lastError: 'again' });
  });
});

describe('registryWarning (up, router up)', () => {
  it('warns of a plaintext registry off loopback, naming the endpoints and the TLS flags; not on loopback or with TLS', () => {
    expect(registryWarning(parseRegistry({ url: 'etcd://127.0.0.1:2379,[::1]:2379,localhost:2379' }))).toBeUndefined();
    const w = registryWarning(parseRegistry({ url: 'etcd://127.0.0.1:2379,10.0.0.1:2379' }));
    expect(w).toMatch(/registry \(10\.0\.0\.1:2379\) is reached in plaintext off loopback.*--registry-ca, --registry-cert, --registry-key/);
    expect(registryWarning(parseRegistry({ url: 'etcds://10.0.0.1:2379' }))).toBeUndefined();
  });
});
