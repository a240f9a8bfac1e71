// A TCP peer that accepts the connection and then says nothing (a wrong port, a stuck process, a
// black hole behind a load balancer) must not hang a command: its calls fail with
// AGENT_UNAVAILABLE after connectTimeoutMs, naming the address. Before, `stats` and `exec`
// without --timeout waited for ever.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULTS } from '../../src/defaults.js';
import { runCli, tempDir } from '../helpers/env.js';

const dir = tempDir('sp-silent-');
const token = join(dir.path, 'token');
let server: Server;
const sockets = new Set<Socket>();
let address = '';

beforeAll(async () => {
  writeFileSync(token, 'silent-peer-token-0123456789', { mode: 0o600 });
  server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  address = `127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
  dir.cleanup();
});

describe('a peer that accepts and says nothing', () => {
  it('exec (Exchange over http2) and stats (grpc-js) fail with AGENT_UNAVAILABLE after connectTimeoutMs', async () => {
    const started = Date.now();
    const env = { SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };
    const [exec, stats] = await Promise.all([
      runCli(['exec', 'add', 'a=1', 'b=2', '--address', address, '--token-file', token, '--json'], { env, timeoutMs: 40_000 }),
      runCli(['stats', '--address', address, '--token-file', token, '--json'], { env, timeoutMs: 40_000 }),
    ]);
    const took = Date.now() - started;
    for (const r of [exec, stats]) {
      expect(r.code, r.stderr).toBe(3);
      expect(r.stdout + r.stderr).toMatch(/AGENT_UNAVAILABLE/);
      expect(r.stdout + r.stderr).toContain(`nothing answered at ${address} within ${DEFAULTS.connectTimeoutMs} ms`);
    }
    expect(took).toBeGreaterThanOrEqual(DEFAULTS.connectTimeoutMs - 500);
    expect(took).toBeLessThan(DEFAULTS.connectTimeoutMs + 15_000);
  }, 60_000);
});
