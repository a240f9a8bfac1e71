// TLS on the Agent API (issue 11, point 2), with a CA and certificates made by `snakepit certs`
// (real openssl) and real daemons: a client given the CA (--tls-ca) reaches a TLS agent through
// every transport (the Exchange stream, the unary client, the heartbeat stream, a router's
// connection); one without it is refused with an error naming the certificate problem; an agent
// that requires client certificates (mTLS) refuses a client without one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '../../src/index.js';
import { RemoteAgent } from '../../src/api/remote-agent.js';
import { SnakepitError } from '../../src/errors.js';
import { Router } from '../../src/cluster/router.js';
import type { MemberInfo, Membership } from '../../src/cluster/local-membership.js';
import { silentLogger } from '../../src/agent/log.js';
import { loadClientSecurity } from '../../src/security/client.js';
import { FIXTURES, PYTHON, runCli, tempDir } from '../helpers/env.js';
import { startDaemon, type Daemon } from './raw-peer.js';

const dir = tempDir('sp-tls-');
const certs = join(dir.path, 'certs');
const tokenFile = join(dir.path, 'token');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };
const TOOLS = join(FIXTURES, 'side_effect_tools.py');
let tls: Daemon;
let mtls: Daemon;
const ca = join(certs, 'ca.crt');
const client = { cert: join(certs, 'client-1.crt'), key: join(certs, 'client-1.key') };

const cli = (args: string[]) => runCli(args, { env });

beforeAll(async () => {
  writeFileSync(tokenFile, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
  const init = await cli(['certs', 'init', certs, '--json']);
  expect(init.code, init.stderr).toBe(0);
  const host = await cli(['certs', 'issue', certs, '127.0.0.1', 'localhost', '--json']);
  expect(host.code, host.stderr).toBe(0);
  expect((await cli(['certs', 'issue', certs, 'client-1'])).code).toBe(0);
  const serve = ['--tools', TOOLS, '--listen', '127.0.0.1:0', '--token-file', tokenFile, '--tls-cert', join(certs, '127.0.0.1.crt'), '--tls-key', join(certs, '127.0.0.1.key')];
  [tls, mtls] = await Promise.all([startDaemon(serve, { env, prefix: 'sp-tls1-' }), startDaemon([...serve, '--tls-client-ca', ca], { env, prefix: 'sp-tls2-' })]);
});
afterAll(async () => {
  await Promise.all([tls?.stop(), mtls?.stop()]);
  dir.cleanup();
});

describe('snakepit certs', () => {
  it('makes a CA and host certificates: files 0600 in a 0700 directory, listed by --json; never overwrites without --force', async () => {
    const other = join(dir.path, 'other-ca');
    const init = await cli(['certs', 'init', other, '--json']);
    const doc = JSON.parse(init.stdout) as { ok: boolean; files: Array<{ path: string; kind: string; mode: string }> };
    expect(doc.files.map((f) => [f.path, f.kind, f.mode])).toEqual([
      [join(other, 'ca.key'), 'ca-key', '0600'],
      [join(other, 'ca.crt'), 'ca-cert', '0600'],
    ]);
    expect(statSync(other).mode & 0o777).toBe(0o700);
    const issued = JSON.parse((await cli(['certs', 'issue', other, '10.0.0.5', 'agent1.example', '--json'])).stdout) as { files: Array<{ path: string }>; subjectAltNames: string[] };
    expect(issued.subjectAltNames).toEqual(['IP:10.0.0.5', 'DNS:agent1.example']);
    for (const f of [...doc.files, ...issued.files]) expect(statSync(f.path).mode & 0o777, f.path).toBe(0o600);
    const x509 = new (await import('node:crypto')).X509Certificate(readFileSync(join(other, '10.0.0.5.crt')));
    expect(x509.subjectAltName).toBe('IP Address:10.0.0.5, DNS:agent1.example');
    expect(x509.checkIssued(new (await import('node:crypto')).X509Certificate(readFileSync(join(other, 'ca.crt'))))).toBe(true);
    expect(x509.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'])); // serverAuth, clientAuth
    const again = await cli(['certs', 'init', other]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`${join(other, 'ca.key')} already exists; pass --force to replace it`);
    expect((await cli(['certs', 'issue', other, 'a,b'])).stderr).toMatch(/\[USAGE\] certs issue: 'a,b' is neither an IP address nor a DNS name/);
  });
});

describe('a TLS agent', () => {
  it('is reached with --tls-ca (exec over HTTP/2, stats over grpc-js)', async () => {
    const address = String(tls.up.address);
    expect(tls.up.transport).toBe('tls');
    const exec = await cli(['exec', 'add', 'a=20', 'b=22', '--address', address, '--token-file', tokenFile, '--tls-ca', ca]);
    expect(exec.stderr).toBe('');
    expect(exec.stdout.trim()).toBe('42');
    const byName = await cli(['stats', '--json', '--address', `localhost:${address.split(':')[1]}`, '--token-file', tokenFile, '--tls-ca', ca]);
    expect(byName.code, byName.stderr).toBe(0);
    expect(byName.stderr).toBe(''); // no warning of any kind (e.g. Node's about an IP as TLS server name)
    expect((JSON.parse(byName.stdout) as { agent: { network: unknown } }).agent.network).toEqual({ listen: address, advertise: address, transport: 'tls' });
  });

  it('refuses a client without the CA, naming the certificate problem and --tls-ca', async () => {
    const address = String(tls.up.address);
    const want = /error \[TLS_ERROR\] TLS to 127\.0\.0\.1:\d+ failed: the agent's certificate is not signed by a CA this client trusts \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\): pass --tls-ca FILE/;
    // The client asks for TLS (a client certificate, or a name to check) but trusts only the system's roots.
    for (const cmd of [['exec', 'add', 'a=1', 'b=2'], ['stats']]) {
      const r = await cli([...cmd, '--address', address, '--token-file', tokenFile, '--tls-servername', 'localhost']);
      expect(r.code, cmd[0]).toBe(1);
      expect(r.stderr, cmd[0]).toMatch(want);
    }
    // Plaintext (a loopback address without --tls-ca) to a TLS agent: told it may serve TLS.
    const plain = await cli(['exec', 'add', 'a=1', 'b=2', '--address', address, '--token-file', tokenFile]);
    expect(plain.code).toBe(3);
    expect(plain.stderr).toMatch(/\[AGENT_UNAVAILABLE\].*if it serves TLS, pass --tls-ca FILE/);
  });

  it('connect({ address, tokenFile, tls }) and a RemoteAgent’s heartbeats work over TLS', async () => {
    const address = String(tls.up.address);
    const lib = connect({ address, tokenFile, tls: { ca: readFileSync(ca) } });
    try {
      expect(await lib.execute('add', { a: 1, b: 2 })).toBe(3);
      expect((await lib.tools()).map((t) => t.name).sort()).toEqual(['add', 'environ', 'touch']);
    } finally {
      lib.close();
    }
    const security = loadClientSecurity({ tokenFile, tlsCa: ca });
    const remote = new RemoteAgent({ address, security, noAgent: () => new SnakepitError('AGENT_UNAVAILABLE', 'gone') });
    try {
      const load = await remote.load(); // the Heartbeats stream (node:http2, h2-stream.ts)
      expect(load.capacity).toBe(1);
    } finally {
      remote.close();
    }
  });

  it('a router reaches an agent known only by its TCP address, with RouterOptions.security', async () => {
    const address = String(tls.up.address);
    // The agent's own id, as a registry entry names it (a router routes only to an address that answers with the id its entry gave).
    const probe = connect({ address, tokenFile, tls: { ca: readFileSync(ca) } });
    const id = (await probe.stats()).agent.id;
    probe.close();
    const info: MemberInfo = { id, address, pid: tls.pid, labels: {}, version: undefined, workerPids: [], restarts: 0 };
    const membership: Membership = {
      start: async (events) => events.up(info),
      members: () => [info],
      scale: async () => {},
      hold: () => {},
      release: () => {},
      stop: async () => {},
    };
    const router = new Router({ id: 'r', membership, logger: silentLogger, security: loadClientSecurity({ tokenFile, tlsCa: ca }) });
    await router.start();
    try {
      const value = await new Promise((resolve, reject) =>
        router.execute({ tool: 'add', args: { json: Buffer.from('{"a":4,"b":5}'), blobs: [] }, session: null }, (err, v) => (err ? reject(SnakepitError.from(err)) : resolve(JSON.parse(v!.json.toString())))),
      );
      expect(value).toBe(9);
    } finally {
      await router.shutdown();
    }
  });
});

describe('an mTLS agent (--tls-client-ca)', () => {
  it('refuses a client without a certificate, and serves one with a certificate from the CA', async () => {
    const address = String(mtls.up.address);
    expect(mtls.up.transport).toBe('mtls');
    for (const cmd of [['exec', 'add', 'a=1', 'b=2'], ['stats']]) {
      const r = await cli([...cmd, '--address', address, '--token-file', tokenFile, '--tls-ca', ca]);
      expect(r.code, cmd[0]).toBe(1);
      expect(r.stderr, cmd[0]).toMatch(/error \[TLS_ERROR\] TLS to 127\.0\.0\.1:\d+ failed: the agent requires a client certificate \(mTLS\): pass --tls-cert FILE --tls-key FILE/);
    }
    const ok = await cli(['exec', 'add', 'a=2', 'b=2', '--address', address, '--token-file', tokenFile, '--tls-ca', ca, '--tls-cert', client.cert, '--tls-key', client.key]);
    expect(ok.stdout.trim(), ok.stderr).toBe('4');
    const stats = await runCli(['stats', '--address', address], { env: { ...env, SNAKEPIT_TOKEN_FILE: tokenFile, SNAKEPIT_TLS_CA: ca, SNAKEPIT_TLS_CERT: client.cert, SNAKEPIT_TLS_KEY: client.key } });
    expect(stats.code, stats.stderr).toBe(0);
    expect(stats.stdout).toContain('(TLS, client certificates required, token required)');
  });
});
