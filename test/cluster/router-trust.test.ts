// Whom a router over etcd trusts with the cluster token (issue 11 point 2, attacked): whoever can
// write to etcd can register any address, and the router sends the token to every one it dials.
// So `router up` trusts the cluster's CA only: without --tls-ca (and without the explicit
// --insecure-transport) it is refused before anything starts; with it, a forged entry naming a
// plaintext listener on loopback gets a TLS handshake and never the token. The router's
// certificate is also the client certificate an mTLS agent requires, with or without --listen.
// A real etcd, a real agent and router through the CLI, on loopback; every pid is killed by pid.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Http2Server } from 'node:http2';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { PYTHON, killPids, runCli, tempDir } from '../helpers/env.js';

const dir = tempDir('sp-rtrust-');
const certs = join(dir.path, 'certs');
const ca = join(certs, 'ca.crt');
const tokenFile = join(dir.path, 'token');
const token = randomBytes(32).toString('hex');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };
const cli = (args: string[]) => runCli(args, { env, timeoutMs: 60_000 });
const hostTls = ['--tls-cert', join(certs, '127.0.0.1.crt'), '--tls-key', join(certs, '127.0.0.1.key')];
const pids: number[] = [];

let etcd: EtcdServer;
let harvester: Http2Server;
/** What the forged address was sent: request paths and authorization headers. */
const harvested: Array<{ path: string; authorization: string | undefined }> = [];
let harvesterAddress = '';

beforeAll(async () => {
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  for (const args of [['certs', 'init', certs], ['certs', 'issue', certs, '127.0.0.1', 'localhost']]) {
    const r = await cli(args);
    expect(r.code, r.stderr).toBe(0);
  }
  etcd = await startEtcd();
  harvester = createServer();
  harvester.on('stream', (stream, headers) => {
    harvested.push({ path: String(headers[':path']), authorization: headers.authorization });
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
  });
  harvester.on('sessionError', () => undefined);
  await new Promise<void>((r) => harvester.listen(0, '127.0.0.1', r));
  harvesterAddress = `127.0.0.1:${(harvester.address() as { port: number }).port}`;
}, 30_000);

afterAll(async () => {
  for (const home of ['no-ca', 'agent', 'router']) await cli(['down', '--home', join(dir.path, home)]);
  killPids(pids);
  harvester?.close();
  await etcd?.cleanup();
  dir.cleanup();
});

describe('a router over etcd and the cluster token', () => {
  it('refuses to start without --tls-ca (or --insecure-transport), before anything starts', async () => {
    // Before: it started, and sent the token in clear text to a loopback address registered in
    // etcd (and to any host with a publicly signed certificate, the system's roots being trusted).
    const home = join(dir.path, 'no-ca');
    const r = await cli(['router', 'up', '--home', home, '--registry', etcd.url, '--token-file', tokenFile, '--json']);
    expect(r.code).not.toBe(0);
    const out = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string } };
    expect(out.error.code).toBe('USAGE');
    expect(out.error.message).toMatch(/needs --tls-ca FILE \(or SNAKEPIT_TLS_CA\).*certs init.*--insecure-transport/);
    expect(existsSync(home)).toBe(false);
  });

  it('dials an mTLS agent with its certificate (no --listen needed), and a forged plaintext address never gets the token', async () => {
    const agentHome = join(dir.path, 'agent');
    const a = await cli(['up', '--home', agentHome, '--workers', '1', '--listen', '127.0.0.1:0', '--token-file', tokenFile, ...hostTls, '--tls-client-ca', ca, '--registry', etcd.url, '--json']);
    expect(a.code, a.stderr).toBe(0);
    pids.push((JSON.parse(a.stdout) as { pid: number }).pid);
    const forged = { id: 'forged', address: harvesterAddress, labels: {}, capacity: 100, version: '0.1.0', state: 'serving', startedAt: 1, host: 'x' };
    const direct = new Etcd3({ hosts: `http://${etcd.endpoint}` });
    try {
      await direct.put('/snakepit/v1/agents/forged').value(JSON.stringify(forged));
    } finally {
      direct.close();
    }
    const routerHome = join(dir.path, 'router');
    // Before: --tls-cert without --listen was refused ("applies only to a TCP listener").
    const r = await cli(['router', 'up', '--home', routerHome, '--registry', etcd.url, '--token-file', tokenFile, '--tls-ca', ca, ...hostTls, '--json']);
    expect(r.code, r.stderr).toBe(0);
    pids.push((JSON.parse(r.stdout) as { pid: number }).pid);
    const call = await cli(['exec', 'add', 'a=2', 'b=3', '--home', routerHome, '--json']);
    expect(call.code, call.stderr).toBe(0);
    expect(JSON.parse(call.stdout)).toEqual({ ok: true, result: 5 });
    // The router spoke TLS to the forged address: the plaintext listener never saw a request.
    expect(harvested).toEqual([]);
    expect(readFileSync(join(routerHome, 'logs', 'agent.log'), 'utf8')).toContain('agent forged joined but did not describe itself: TLS to');
  }, 30_000);
});
