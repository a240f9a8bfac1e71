// An agent on TCP (`up --listen`) with the cluster token (issue 11, point 1): every Agent API call
// without the token, or with another one, is UNAUTHENTICATED and does nothing (a tool with a side
// effect shows it did not run; a Shutdown without it leaves the agent up); the health service
// stays open; the token is nowhere but in its file: not in logs, agent.json, stats, errors, the
// command lines of the daemon and its workers, nor the workers' environment (which does not even
// learn where the token file is). A group-readable token file, TCP without a token and a
// non-loopback address without TLS are refused before anything starts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '../../src/index.js';
import { healthServiceDefinition } from '../../src/api/agent-codec.js';
import { agentService, channelOptions } from '../../src/api/proto.js';
import { FIXTURES, PYTHON, pidAlive, runCli, tempDir } from '../helpers/env.js';
import { procCmdline, procEnviron } from './helpers.js';
import { startDaemon, type Daemon } from './raw-peer.js';

const dir = tempDir('sp-tcp-');
const TOKEN = `tk-${randomBytes(24).toString('hex')}`;
const tokenFile = join(dir.path, 'token');
const wrongFile = join(dir.path, 'wrong');
const TOOLS = join(FIXTURES, 'side_effect_tools.py');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };
let agent: Daemon;
let address: string;
/** Everything the CLI printed in this file (errors included): the token must be in none of it. */
const printed: string[] = [];

const cli = async (args: string[], extra: Record<string, string> = {}) => {
  const r = await runCli(args, { env: { ...env, ...extra } });
  printed.push(r.stdout, r.stderr);
  return r;
};
const marker = (name: string): string => join(dir.path, `ran-${name}`);

beforeAll(async () => {
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  writeFileSync(wrongFile, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
  // The token file through the environment, as a daemon must not pass it on to its workers.
  agent = await startDaemon(['--tools', TOOLS, '--listen', '127.0.0.1:0'], { env: { SNAKEPIT_TOKEN_FILE: tokenFile }, prefix: 'sp-tcpd-' });
  address = String(agent.up.address);
});
afterAll(async () => {
  await agent?.stop();
  dir.cleanup();
});

/** A grpc-js stub of the Agent API at `address`, with no token unless `token` is given. */
function stub(token?: string): grpc.Client & Record<string, (...a: unknown[]) => unknown> {
  const options = channelOptions(64 * 1024 * 1024);
  const client = new (agentService())(address, grpc.credentials.createInsecure(), options) as unknown as grpc.Client & Record<string, (...a: unknown[]) => unknown>;
  (client as unknown as { md: grpc.Metadata }).md = new grpc.Metadata();
  if (token) (client as unknown as { md: grpc.Metadata }).md.set('authorization', `Bearer ${token}`);
  return client;
}
function unary(client: ReturnType<typeof stub>, method: string, request: object): Promise<{ code: number; details: string } | { ok: unknown }> {
  const md = (client as unknown as { md: grpc.Metadata }).md;
  return new Promise((resolve) => client[method]!(request, md, {}, (err: grpc.ServiceError | null, res: unknown) => resolve(err ? { code: err.code, details: err.details } : { ok: res })));
}

describe('an agent on TCP', () => {
  it('up --listen 127.0.0.1:0 prints the chosen address, also in agent.json and stats', async () => {
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(Number(address.split(':')[1])).toBeGreaterThan(0);
    expect(agent.up).toMatchObject({ ok: true, advertise: address, transport: 'insecure', socket: `unix:${agent.socket}` });
    const info = JSON.parse(readFileSync(join(agent.home, 'agent.json'), 'utf8')) as { address: string; network: unknown };
    expect(info).toMatchObject({ address: `unix:${agent.socket}`, network: { listen: address, advertise: address, transport: 'insecure' } });
    const stats = await cli(['stats', '--home', agent.home]); // the home still works, over its socket, without a token
    expect(stats.code, stats.stderr).toBe(0);
    expect(stats.stdout).toContain(`listen   ${address} (plaintext, token required)`);
  });

  it('a call without the token, or with a wrong one, is UNAUTHENTICATED and runs nothing', async () => {
    // The CLI: exec (the Exchange stream over HTTP/2) and stats (grpc-js).
    const none = await cli(['exec', 'touch', `path=${marker('cli-none')}`, '--address', address]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/error \[UNAUTHENTICATED\] this Agent API address needs the cluster token: give the client --token-file FILE/);
    const wrong = await cli(['exec', 'touch', `path=${marker('cli-wrong')}`, '--address', address, '--token-file', wrongFile]);
    expect(wrong.stderr).toMatch(/error \[UNAUTHENTICATED\] the token presented is not this cluster's token/);
    expect((await cli(['stats', '--address', address])).stderr).toMatch(/\[UNAUTHENTICATED\]/);
    // The library, call and stream.
    const lib = connect({ address, tokenFile: wrongFile });
    await expect(lib.execute('touch', { path: marker('lib-execute') })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect((async () => {
      for await (const _ of lib.stream('touch', { path: marker('lib-stream') })) void _;
    })()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(lib.stats()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    lib.close();
    // A plain gRPC client: unary Execute, and Shutdown, which must leave the agent running.
    const raw = stub();
    const exec = await unary(raw, 'Execute', { tool: 'touch', argsJson: Buffer.from(JSON.stringify({ path: marker('raw-execute') })), blobs: [], session: '', timeoutMs: 0, idempotent: false, pool: '' });
    expect(exec).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    const stop = await unary(stub(`${TOKEN}x`), 'Shutdown', { graceMs: 0 });
    expect(stop).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    raw.close();
    await new Promise((r) => setTimeout(r, 300));
    expect(pidAlive(agent.pid)).toBe(true);
    for (const m of ['cli-none', 'cli-wrong', 'lib-execute', 'lib-stream', 'raw-execute']) expect(existsSync(marker(m)), m).toBe(false);
    // With the token, the same tool does run (the check above could have failed).
    const ok = await cli(['exec', 'touch', `path=${marker('with-token')}`, '--address', address, '--token-file', tokenFile]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(existsSync(marker('with-token'))).toBe(true);
    const viaEnv = await cli(['exec', 'add', 'a=2', 'b=3'], { SNAKEPIT_ADDRESS: address, SNAKEPIT_TOKEN_FILE: tokenFile });
    expect(viaEnv.stdout.trim()).toBe('5');
  });

  it('the health service stays open without the token', async () => {
    const Health = grpc.makeGenericClientConstructor(healthServiceDefinition(), 'Health');
    const health = new Health(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Check(r: object, md: grpc.Metadata, o: object, cb: (e: grpc.ServiceError | null, r: { status: number }) => void): void };
    const status = await new Promise<number | string>((resolve) => health.Check({ service: '' }, new grpc.Metadata(), {}, (e, r) => resolve(e ? `error ${e.code}` : r.status)));
    health.close();
    expect(status).toBe(1); // SERVING
  });

  it('the token is nowhere: logs, home files, stats, errors, command lines, the workers’ environment', async () => {
    const stats = await cli(['stats', '--json', '--address', address, '--token-file', tokenFile]);
    expect(stats.code, stats.stderr).toBe(0);
    const doc = JSON.parse(stats.stdout) as { workers: Array<{ pid: number }>; agent: { pid: number } };
    const workerPids = doc.workers.map((w) => w.pid);
    expect(workerPids.length).toBeGreaterThan(0);
    const envOfWorker = await cli(['exec', 'environ', '--json', '--address', address, '--token-file', tokenFile]);
    const workerEnv = (JSON.parse(envOfWorker.stdout) as { result: Record<string, string> }).result;
    expect(workerEnv.SNAKEPIT_RUN_ID).toBeTruthy(); // it is the worker's environment
    expect(Object.keys(workerEnv).filter((k) => /TOKEN|TLS/.test(k))).toEqual([]);
    for (const pid of [agent.pid, ...workerPids]) {
      expect(procCmdline(pid).join(' '), `cmdline of ${pid}`).not.toContain(TOKEN);
      const environ = procEnviron(pid);
      expect(JSON.stringify(environ), `environ of ${pid}`).not.toContain(TOKEN);
      expect(environ.SNAKEPIT_TOKEN_FILE, `environ of ${pid}`).toBeUndefined();
    }
    const files = (root: string): string[] => readdirSync(root, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(root, e.name)) : e.isFile() ? [join(root, e.name)] : []));
    const homeFiles = files(agent.home);
    expect(homeFiles.some((f) => f.endsWith('agent.log'))).toBe(true);
    for (const f of homeFiles) expect(readFileSync(f, 'utf8'), f).not.toContain(TOKEN);
    expect(readFileSync(join(agent.home, 'logs', 'agent.log'), 'utf8')).toContain(`Agent API on TCP ${address}`);
    for (const out of printed) expect(out).not.toContain(TOKEN);
  });
});

describe('up refuses, before anything starts', () => {
  const home = join(dir.path, 'refused');

  it('a token file readable by group or others, naming the path, the mode and chmod 600', async () => {
    const open = join(dir.path, 'open-token');
    writeFileSync(open, `${TOKEN}\n`, { mode: 0o640 });
    const r = await cli(['up', '--home', home, '--workers', '1', '--listen', '127.0.0.1:0', '--token-file', open]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error [FILE_UNSAFE] --token-file ${open} is readable or writable by group or others (mode 0640)`);
    expect(r.stderr).toContain(`chmod 600 ${open}`);
    expect(existsSync(home)).toBe(false);
  });

  it('TCP without a token, naming --token-file', async () => {
    const r = await cli(['up', '--home', home, '--listen', '127.0.0.1:0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[USAGE\] listening on TCP \(--listen 127\.0\.0\.1:0\) needs the cluster's token: --token-file FILE/);
  });

  it('anything but loopback without TLS, naming --tls-cert/--tls-key and --insecure-transport', async () => {
    const r = await cli(['up', '--home', home, '--listen', '0.0.0.0:0', '--token-file', tokenFile]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/listening on 0\.0\.0\.0:0 \(not loopback\) without TLS is refused: pass --tls-cert FILE --tls-key FILE .* or --insecure-transport/);
    expect(existsSync(home)).toBe(false);
  });
});

describe('--insecure-transport off loopback', () => {
  it('serves, and up, stats and doctor say it is plaintext', async () => {
    const d = await startDaemon(['--tools', TOOLS, '--listen', '0.0.0.0:0', '--advertise', '127.0.0.1:0', '--token-file', tokenFile, '--insecure-transport', '--labels', 'zone=test'], { env, prefix: 'sp-tcpi-' });
    try {
      const warning = /the Agent API on 0\.0\.0\.0:0 is served without TLS \(--insecure-transport\): the token and every call cross the network in clear text/;
      expect(d.upStderr).toMatch(new RegExp(`warning: ${warning.source}`));
      expect(d.up.warnings).toEqual([expect.stringMatching(warning)]);
      const port = String(d.up.address).split(':')[1];
      expect(d.up).toMatchObject({ address: `0.0.0.0:${port}`, advertise: `127.0.0.1:${port}`, labels: { zone: 'test' } });
      const stats = await cli(['stats', '--address', `127.0.0.1:${port}`, '--token-file', tokenFile]);
      expect(stats.stdout).toMatch(new RegExp(`WARNING  ${warning.source}`));
      expect(stats.stdout).toContain('labels   zone=test');
      const doctor = await cli(['doctor', '--home', d.home]);
      expect(doctor.stdout).toMatch(/WARN {2}network +Agent API on TCP 0\.0\.0\.0:\d+ \(plaintext, token required\)/);
      expect(doctor.stdout).toMatch(warning);
    } finally {
      await d.stop();
    }
  });
});
