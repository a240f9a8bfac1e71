// The standard grpc.health.v1 service beside the Agent API (issue 8, item 17), probed by a
// standard client (grpc-js with proto-loader reading the published health.proto): SERVING while
// the agent takes calls, NOT_SERVING once a pool is degraded or the agent drains.
import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '../../src/index.js';
import { FIXTURES, ROOT, waitFor } from '../helpers/env.js';
import { startDaemon, type Daemon } from './raw-peer.js';

type Health = grpc.Client & {
  Check(req: { service: string }, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
  Watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }>;
};

function healthClient(socket: string): Health {
  const def = protoLoader.loadSync(join(ROOT, 'proto/grpc/health/v1/health.proto'), { enums: String });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
  return new pkg.grpc.health.v1.Health(`unix:${socket}`, grpc.credentials.createInsecure()) as unknown as Health;
}

const check = (h: Health, service: string): Promise<string> =>
  new Promise((resolve, reject) => h.Check({ service }, (err, res) => (err ? reject(err) : resolve(res!.status))));

/** Statuses a Watch stream delivers, as they arrive. */
function watching(h: Health, service: string): { seen: string[]; stream: grpc.ClientReadableStream<{ status: string }> } {
  const seen: string[] = [];
  const stream = h.Watch({ service });
  stream.on('data', (m) => seen.push(m.status));
  stream.on('error', () => {});
  return { seen, stream };
}

let daemon: Daemon | undefined;
let health: Health | undefined;

afterEach(async () => {
  health?.close();
  health = undefined;
  await daemon?.stop();
  daemon = undefined;
});

describe('grpc.health.v1', () => {
  it('says SERVING, knows only its own services, and turns NOT_SERVING when a pool degrades', async () => {
    const flag = `/tmp/sp-health-flag-${process.pid}-${Date.now()}`;
    daemon = await startDaemon(['--tools', join(FIXTURES, 'flaky_import.py')], { env: { CRASH_FLAG: flag } });
    health = healthClient(daemon.socket);
    expect(await check(health, '')).toBe('SERVING');
    expect(await check(health, 'snakepit.v1.Agent')).toBe('SERVING');
    const unknown = (await check(health, 'no.such.Service').catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
    expect(unknown.code).toBe(grpc.status.NOT_FOUND);
    const w = watching(health, '');
    const u = watching(health, 'no.such.Service');
    await waitFor(() => w.seen.length === 1 && u.seen.length === 1, 5_000);
    expect(w.seen).toEqual(['SERVING']);
    expect(u.seen).toEqual(['SERVICE_UNKNOWN']);
    // From now on the worker cannot start again: the pool degrades after its startup failures.
    writeFileSync(flag, '');
    try {
      process.kill(daemon.workerPids[0]!, 'SIGKILL');
      await waitFor(() => w.seen.includes('NOT_SERVING'), 15_000);
      expect(await check(health, '')).toBe('NOT_SERVING');
    } finally {
      w.stream.cancel();
      u.stream.cancel();
      await import('node:fs').then((fs) => fs.rmSync(flag, { force: true }));
    }
  });

  it('turns NOT_SERVING while the agent drains', async () => {
    daemon = await startDaemon();
    health = healthClient(daemon.socket);
    const w = watching(health, 'snakepit.v1.Agent');
    await waitFor(() => w.seen.length === 1, 5_000);
    const client = connect({ home: daemon.home });
    try {
      await client.drain(5_000);
    } finally {
      client.close();
    }
    await waitFor(() => w.seen.includes('NOT_SERVING'), 5_000);
    expect(w.seen[0]).toBe('SERVING');
    w.stream.cancel();
  });
});
