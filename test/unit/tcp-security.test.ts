// The pure rules of the Agent API on TCP (src/security/, src/api/failover.ts): addresses, what is
// loopback, what an agent advertises, what `up --listen` refuses, how a client talks to an
// address, the token check, how TLS failures read, and when a client fails over.
import { describe, expect, it } from 'vitest';
import type { NetworkInterfaceInfo } from 'node:os';
import { advertiseAddress, isLoopbackHost, parseHostPort } from '../../src/security/addresses.js';
import { planListen } from '../../src/security/listen.js';
import { transportFor } from '../../src/security/client.js';
import { tlsFailure } from '../../src/security/tls-errors.js';
import { bearer, tokenDigest, tokenProblem } from '../../src/security/token.js';
import { shouldFailOver, type FailedAttempt } from '../../src/api/failover.js';
import { parseAgentLabels } from '../../src/cli/args.js';
import { SnakepitError } from '../../src/errors.js';
import { formatStats } from '../../src/cli/commands/stats.js';
import { formatClusterStatus } from '../../src/cli/commands/cluster.js';
import type { AgentStats } from '../../src/client/types.js';

const code = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    return `${(err as SnakepitError).code}: ${(err as Error).message}`;
  }
  return 'no error';
};

const nic = (address: string, family: 'IPv4' | 'IPv6', internal = false): NetworkInterfaceInfo => ({ address, family, internal, netmask: '', mac: '', cidr: null }) as NetworkInterfaceInfo;

describe('addresses', () => {
  it.each([
    ['127.0.0.1:7000', { host: '127.0.0.1', port: 7000 }],
    ['[::1]:0', { host: '::1', port: 0 }],
    ['agent-1.example:65535', { host: 'agent-1.example', port: 65535 }],
    ['localhost:1', { host: 'localhost', port: 1 }],
  ])('parses %s', (raw, want) => {
    expect(parseHostPort(raw, '--listen')).toEqual(want);
  });

  it.each(['127.0.0.1', '::1:7000', '[localhost]:1', 'a b:1', 'host:65536', ':7000', 'x_y:1', 'h:port'])('refuses %s, naming the flag', (raw) => {
    expect(code(() => parseHostPort(raw, '--listen'))).toMatch(/^USAGE: --listen expects HOST:PORT/);
  });

  it.each([
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['::1', true],
    ['0:0:0:0:0:0:0:1', true],
    ['::ffff:127.0.0.1', true],
    ['localhost', true],
    ['LOCALHOST.', true],
    ['10.0.0.1', false],
    ['0.0.0.0', false],
    ['::', false],
    ['128.0.0.1', false],
    ['localhost.example', false],
  ])('loopback %s: %s', (host, want) => {
    expect(isLoopbackHost(host)).toBe(want);
  });

  it('advertises the listen address, --advertise (port 0: the bound one), or the one address of every-interface', () => {
    const one = { eth0: [nic('10.1.2.3', 'IPv4'), nic('fe80::1', 'IPv6')], lo: [nic('127.0.0.1', 'IPv4', true)] };
    expect(advertiseAddress({ host: '127.0.0.1', port: 0 }, 4100, undefined, one)).toBe('127.0.0.1:4100');
    expect(advertiseAddress({ host: '0.0.0.0', port: 0 }, 4100, { host: 'agent1.example', port: 0 }, one)).toBe('agent1.example:4100');
    expect(advertiseAddress({ host: '0.0.0.0', port: 0 }, 4100, { host: '::1', port: 9 }, one)).toBe('[::1]:9');
    expect(advertiseAddress({ host: '0.0.0.0', port: 7000 }, 7000, undefined, one)).toBe('10.1.2.3:7000');
    expect(code(() => advertiseAddress({ host: '::', port: 0 }, 1, undefined, one))).toMatch(/no IPv6 address but loopback: say which one others dial with --advertise/);
    const two = { eth0: [nic('10.1.2.3', 'IPv4')], eth1: [nic('192.168.0.2', 'IPv4')] };
    expect(code(() => advertiseAddress({ host: '0.0.0.0', port: 0 }, 1, undefined, two))).toMatch(/several IPv4 addresses \(10.1.2.3, 192.168.0.2\).*--advertise HOST:PORT/);
    expect(code(() => advertiseAddress({ host: '0.0.0.0', port: 0 }, 1, { host: '0.0.0.0', port: 1 }, one))).toMatch(/not an address others can dial/);
  });
});

describe('up --listen (planListen)', () => {
  const nics = { eth0: [nic('10.1.2.3', 'IPv4')] };
  const plan = (req: Parameters<typeof planListen>[0]) => planListen(req, nics);

  it('refuses TCP without a token, naming --token-file', () => {
    expect(code(() => plan({ listen: '127.0.0.1:0' }))).toMatch(/^USAGE: .*needs the cluster's token: --token-file FILE \(or SNAKEPIT_TOKEN_FILE\)/);
  });

  it('refuses non-loopback without TLS, naming --tls-cert/--tls-key and --insecure-transport', () => {
    for (const listen of ['0.0.0.0:0', '10.1.2.3:7000', '[::]:0', 'agent1.example:7000']) {
      expect(code(() => plan({ listen, tokenFile: '/t' }))).toMatch(/^USAGE: listening on .* \(not loopback\) without TLS is refused: pass --tls-cert FILE --tls-key FILE.*--insecure-transport/);
    }
  });

  it('allows plaintext on loopback silently, and off loopback with --insecure-transport and a warning', () => {
    expect(plan({ listen: 'localhost:0', tokenFile: '/t' })).toMatchObject({ transport: 'insecure', warnings: [] });
    const p = plan({ listen: '10.1.2.3:7000', tokenFile: '/t', insecureTransport: true })!;
    expect(p.transport).toBe('insecure');
    expect(p.warnings).toEqual([expect.stringMatching(/served without TLS \(--insecure-transport\).*clear text/)]);
    expect(p.tcp).toEqual({ listen: '10.1.2.3:7000', tokenFile: '/t', insecureTransport: true });
  });

  it('TLS and mTLS; pairs and contradictions are usage errors', () => {
    expect(plan({ listen: '10.1.2.3:7000', tokenFile: '/t', tlsCert: '/c', tlsKey: '/k' })).toMatchObject({ transport: 'tls', warnings: [] });
    expect(plan({ listen: '10.1.2.3:7000', tokenFile: '/t', tlsCert: '/c', tlsKey: '/k', tlsClientCa: '/ca' })).toMatchObject({ transport: 'mtls', tcp: { tlsClientCa: '/ca' } });
    expect(code(() => plan({ listen: '127.0.0.1:1', tokenFile: '/t', tlsCert: '/c' }))).toMatch(/--tls-cert needs --tls-key/);
    expect(code(() => plan({ listen: '127.0.0.1:1', tokenFile: '/t', tlsClientCa: '/ca' }))).toMatch(/--tls-client-ca needs --tls-cert and --tls-key/);
    expect(code(() => plan({ listen: '127.0.0.1:1', tokenFile: '/t', tlsCert: '/c', tlsKey: '/k', insecureTransport: true }))).toMatch(/contradicts/);
  });

  it('without --listen: nothing, but a listener flag alone is a usage error', () => {
    expect(plan({ tokenFile: '/t' })).toBeUndefined(); // SNAKEPIT_TOKEN_FILE is also the client's
    expect(code(() => plan({ tlsCert: '/c' }))).toMatch(/--tls-cert applies only to a TCP listener: add --listen/);
    expect(code(() => plan({ advertise: 'a:1' }))).toMatch(/--advertise applies only/);
    // A router without --listen: its certificate is the client one shown to mTLS agents, and
    // --insecure-transport its plaintext to them (before: refused as "applies only to a TCP listener").
    expect(plan({ router: true, tlsCert: '/c', tlsKey: '/k' })).toBeUndefined();
    expect(plan({ router: true, insecureTransport: true })).toBeUndefined();
    expect(code(() => plan({ router: true, tlsClientCa: '/ca' }))).toMatch(/--tls-client-ca applies only to a TCP listener/);
  });
});

describe('labels (up --labels)', () => {
  it('parses k=v,… and refuses what a router could not use', () => {
    expect(parseAgentLabels(['zone=eu-1,gpu=a100'], '--labels')).toEqual({ zone: 'eu-1', gpu: 'a100' });
    expect(parseAgentLabels([''], '--labels')).toEqual({});
    for (const bad of ['zone', '=x', 'a b=1', 'k=v v', 'k=1,k=2', 'agent=me', `${'k'.repeat(64)}=1`]) expect(code(() => parseAgentLabels([bad], '--labels'))).toMatch(/^USAGE: --labels/);
  });
});

describe('client transport (transportFor)', () => {
  it('plaintext only to loopback unless told; TLS with the system roots otherwise; TLS whenever given', () => {
    expect(transportFor('unix:/h/agent.sock', { token: 't' })).toEqual({ kind: 'unix', path: '/h/agent.sock' });
    expect(transportFor('127.0.0.1:7000', { token: 'tok' })).toMatchObject({ kind: 'tcp', tls: undefined, token: 'tok' });
    expect(transportFor('[::1]:7000', undefined)).toMatchObject({ kind: 'tcp', host: '::1', tls: undefined });
    expect(transportFor('10.0.0.5:7000', undefined)).toMatchObject({ tls: {} });
    expect(transportFor('agent1.example:7000', { insecureTransport: true })).toMatchObject({ tls: undefined });
    expect(transportFor('127.0.0.1:7000', { tls: { ca: 'PEM' } })).toMatchObject({ tls: { ca: 'PEM' } });
    expect(code(() => transportFor('nonsense', undefined))).toMatch(/^USAGE/);
  });
});

describe('the token check', () => {
  const expected = tokenDigest('s3cret-token-0123456789');
  it('accepts exactly the bearer token; says what is wrong without echoing what came', () => {
    expect(tokenProblem(expected, [bearer('s3cret-token-0123456789')])).toBeUndefined();
    expect(tokenProblem(expected, [])).toMatch(/needs the cluster token: give the client --token-file FILE/);
    for (const wrong of [[bearer('s3cret-token-0123456780')], ['s3cret-token-0123456789'], [bearer('')], [bearer('s3cret-token-0123456789'), bearer('s3cret-token-0123456789')]]) {
      const p = tokenProblem(expected, wrong)!;
      expect(p).toMatch(/not this cluster's token/);
      expect(p).not.toContain('s3cret');
    }
  });
});

describe('TLS failures read as the certificate problem', () => {
  it.each([
    [Object.assign(new Error('The pending stream has been canceled (caused by: unable to verify the first certificate)'), { code: 'ERR_HTTP2_STREAM_CANCEL', cause: Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }) }), /not signed by a CA this client trusts \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\): pass --tls-ca FILE/],
    ['No connection established. Last error: Error: unable to verify the first certificate. Resolution note: ', /UNABLE_TO_VERIFY_LEAF_SIGNATURE\): pass --tls-ca/],
    ['No connection established. Last error: Error: self-signed certificate in certificate chain', /SELF_SIGNED_CERT_IN_CHAIN/],
    ["Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate's altnames", /does not name the address dialled.*--tls-servername/],
    [Object.assign(new Error('ssl3_read_bytes:tlsv13 alert certificate required'), { code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' }), /requires a client certificate \(mTLS\): pass --tls-cert FILE --tls-key FILE/],
    ['Last error: error:0A00010B:SSL routines:ssl3_get_record:wrong version number', /does not speak TLS/],
    ['tlsv13 alert unknown ca', /does not accept this client's certificate/],
  ])('%s', (err, want) => {
    const e = tlsFailure(err, '10.0.0.5:7000')!;
    expect(e.code).toBe('TLS_ERROR');
    expect(e.message).toMatch(/^TLS to 10\.0\.0\.5:7000 failed: /);
    expect(e.message).toMatch(want);
  });

  it('is no TLS failure for a refused connection', () => {
    expect(tlsFailure(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 'x:1')).toBeUndefined();
  });
});

describe('failover between addresses (shouldFailOver)', () => {
  const base: FailedAttempt = { code: 'AGENT_UNAVAILABLE', unsent: false, idempotent: false, delivered: false, tried: 1, addresses: 2 };
  it.each<[string, Partial<FailedAttempt>, boolean]>([
    ['unreachable, never sent: next', { unsent: true }, true],
    ['TLS failed (never sent): next', { code: 'TLS_ERROR', unsent: true }, true],
    ['refused as DRAINING (did not run): next', { code: 'DRAINING' }, true],
    ['dispatched, not idempotent: fail', {}, false],
    ['dispatched, idempotent: next', { idempotent: true }, true],
    ['a stream that delivered chunks: fail', { idempotent: true, unsent: true, delivered: true }, false],
    ['every address tried: fail', { unsent: true, tried: 2 }, false],
    ["the tool's own error: fail", { code: 'PYTHON_EXCEPTION', idempotent: true }, false],
    ['a wrong token is the same everywhere: fail', { code: 'UNAUTHENTICATED', unsent: true, idempotent: true }, false],
    ['one address only: fail', { unsent: true, addresses: 1 }, false],
  ])('%s', (_, change, want) => {
    expect(shouldFailOver({ ...base, ...change })).toBe(want);
  });
});

describe('warnings are printed where the agent is shown', () => {
  const warning = 'the Agent API on 0.0.0.0:7000 is served without TLS (--insecure-transport): …';
  const stats = (agent: Partial<AgentStats['agent']>): AgentStats => ({
    agent: { id: 'a1', pid: 10, version: '0.1.0', runId: 'r', uptimeMs: 0, ...agent },
    workers: [],
    pools: [],
    queue: { depth: 0 },
    calls: { completed: 0, failed: 0, inFlight: 0 },
    latencyMs: { p50: 0, p99: 0 },
  });

  it('stats: the listener, labels and each warning', () => {
    const text = formatStats(stats({ network: { listen: '0.0.0.0:7000', advertise: '10.0.0.5:7000', transport: 'insecure' }, labels: { zone: 'a' }, warnings: [warning] }));
    expect(text).toContain('listen   0.0.0.0:7000 (plaintext, token required), advertised as 10.0.0.5:7000');
    expect(text).toContain('labels   zone=a');
    expect(text).toContain(`WARNING  ${warning}`);
    expect(formatStats(stats({}))).not.toMatch(/WARNING|listen/);
  });

  it("cluster status: the router's and each agent's", () => {
    const agent = { id: 'agent-1', address: '10.0.0.5:7000', pid: 11, state: 'alive', labels: {}, workerPids: [], inFlight: 0, queueDepth: 0, capacity: 1, sessions: 0, phi: 0, breaker: 'closed', version: '0.1.0', restarts: 0, stats: stats({ warnings: [warning] }) } as const;
    const text = formatClusterStatus({ router: { id: 'r', pid: 1, address: 'unix:/h/agent.sock', version: '0.1.0', uptimeMs: 0, warnings: ['router warning'] }, agents: [agent] }, { ...stats({ kind: 'router' }), agents: [agent] });
    expect(text).toContain('WARNING  router: router warning');
    expect(text).toContain(`WARNING  agent-1: ${warning}`);
  });
});
