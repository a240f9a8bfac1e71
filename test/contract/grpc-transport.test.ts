// What only the gRPC worker transport has: its socket addresses, the generated Python code kept in
// step with worker.proto, the one-stream-per-worker rule, and a clear failure without grpcio.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentEvent, type EmbeddedAgent, SnakepitError } from '../../src/index.js';
import { CONNECT_PATH, connectDefinition, grpcSocketDir, grpcTransport, releaseSocketPath } from '../../src/worker/grpc-channel.js';
import { transportFor } from '../../src/worker/transports.js';
import { ROOT, tempDir } from '../helpers/env.js';
import { GRPC_PYTHON, listenAddress, requireGrpcio } from './helpers.js';

describe('grpcTransport.prepare', () => {
  it('is registered as "grpc" and asks for a unix socket in a private directory, no extra pipes', () => {
    expect(transportFor('grpc')).toBe(grpcTransport);
    const a = grpcTransport.prepare('default-0');
    const b = grpcTransport.prepare('default-0');
    expect(a.extraPipes).toBe(0);
    expect(a.env).toEqual({});
    expect(a.args.slice(0, 3)).toEqual(['--transport', 'grpc', '--listen']);
    expect(a.args[3]).toMatch(/^unix:\//);
    const [pathA, pathB] = [a.args[3]!.slice('unix:'.length), b.args[3]!.slice('unix:'.length)];
    expect(pathA).toMatch(/\/default-0-[0-9a-f]{8}\.sock$/);
    expect(pathB).not.toBe(pathA);
    const dir = grpcSocketDir();
    expect(dirname(pathA)).toBe(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    // The directory lives while any of its sockets is in use, and goes with the last one.
    releaseSocketPath(pathA);
    expect(existsSync(dir)).toBe(true);
    releaseSocketPath(pathB);
    expect(existsSync(dir)).toBe(false);
    const next = grpcTransport.prepare('default-1').args[3]!.slice('unix:'.length);
    expect(dirname(next)).not.toBe(dir);
    releaseSocketPath(next);
  });

  it('keeps socket paths within the unix limit whatever the worker id', () => {
    const path = grpcTransport.prepare(`pool-${'x'.repeat(200)}/../../evil id`).args[3]!.slice('unix:'.length);
    expect(path.length).toBeLessThanOrEqual(107);
    expect(dirname(path)).toBe(grpcSocketDir());
    releaseSocketPath(path);
  });
});

describe('generated Python code', () => {
  it('matches proto/snakepit/v1/worker.proto (scripts/gen-python-proto.sh --check)', () => {
    const r = spawnSync(join(ROOT, 'scripts/gen-python-proto.sh'), ['--check'], { encoding: 'utf8' });
    expect(r.error).toBeUndefined();
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });
});

describe('a gRPC worker', () => {
  let agent: EmbeddedAgent;
  const events: AgentEvent[] = [];

  beforeAll(async () => {
    requireGrpcio(GRPC_PYTHON);
    agent = await startAgent({ python: GRPC_PYTHON, workerTransport: 'grpc', workers: 1, onEvent: (e) => events.push(e) });
  });
  afterAll(async () => {
    await agent?.stop();
  });

  it('serves one Connect stream only: a second client is refused and the agent serves on', async () => {
    const spawned = events.find((e): e is Extract<AgentEvent, { type: 'worker.spawned' }> => e.type === 'worker.spawned')!;
    const address = listenAddress(spawned.cmdline)!;
    const method = connectDefinition();
    const client = new grpc.Client(address, grpc.credentials.createInsecure());
    try {
      const status = await new Promise<grpc.StatusObject>((resolve) => {
        const call = client.makeBidiStreamRequest(CONNECT_PATH, method.requestSerialize, method.responseDeserialize);
        call.on('data', () => {});
        call.on('error', () => {});
        call.on('status', resolve);
      });
      expect(status.code).toBe(grpc.status.FAILED_PRECONDITION);
    } finally {
      client.close();
    }
    expect(await agent.execute('add', { a: 20, b: 22 })).toBe(42);
  });
});

describe('a gRPC worker whose stream ends while it lives on', () => {
  it('is killed and replaced; its call fails with WORKER_CRASHED naming the cause', async () => {
    requireGrpcio(GRPC_PYTHON);
    const agent = await startAgent({ python: GRPC_PYTHON, workerTransport: 'grpc', workers: 1, tools: join(import.meta.dirname, 'contract_tools.py') });
    try {
      const pid = (await agent.execute('pid', {})) as number;
      const err = await agent.execute('end_stream', {}).catch((e: unknown) => e);
      expect((err as SnakepitError).code).toBe('WORKER_CRASHED');
      expect((err as SnakepitError).message).toMatch(/worker protocol failed: gRPC stream to the worker ended \(OK\)/);
      expect(await agent.execute('pid', {})).not.toBe(pid);
    } finally {
      await agent.stop();
    }
  });
});

describe('a gRPC pool on a Python without grpcio', () => {
  const dir = tempDir('sp-nogrpc-');
  afterAll(() => dir.cleanup());

  it('fails to start with the install hint (exit 3: not retried)', async () => {
    // A `grpc` package that cannot be imported shadows any real one.
    mkdirSync(join(dir.path, 'grpc'));
    writeFileSync(join(dir.path, 'grpc', '__init__.py'), 'raise ImportError("No module named \'grpc\'")\n');
    const events: AgentEvent[] = [];
    const err = await startAgent({ python: GRPC_PYTHON, workerTransport: 'grpc', workers: 1, env: { PYTHONPATH: dir.path }, onEvent: (e) => events.push(e) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SnakepitError);
    expect((err as SnakepitError).code).toBe('WORKER_START_FAILED');
    expect((err as SnakepitError).message).toContain('the gRPC worker transport needs grpcio: install python3-grpcio or `pip install grpcio`');
    const exits = events.filter((e): e is Extract<AgentEvent, { type: 'worker.exited' }> => e.type === 'worker.exited');
    expect(exits.map((e) => e.code)).toEqual([3]);
  });
});
