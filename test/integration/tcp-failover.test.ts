// A client given several addresses (`--address a,b`, `connect({ addresses })`) fails over
// between them (issue 11, points 4 and 5; the rule itself is unit-tested in tcp-security.test.ts):
// a dead first address costs nothing, and when the agent a client was using goes away, its next
// calls go to the other one. Two real agents on loopback TCP with the token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '../../src/index.js';
import { FIXTURES, PYTHON, freePort, pidAlive, runCli, tempDir, waitFor } from '../helpers/env.js';
import { startDaemon, type Daemon } from '../security/raw-peer.js';

const dir = tempDir('sp-fo-');
const tokenFile = join(dir.path, 'token');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };
let a: Daemon;
let b: Daemon;
/** A loopback port nothing listens on (bound, then closed). */
let dead: string;

beforeAll(async () => {
  writeFileSync(tokenFile, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
  const args = ['--tools', join(FIXTURES, 'side_effect_tools.py'), '--listen', '127.0.0.1:0', '--token-file', tokenFile];
  [a, b] = await Promise.all([startDaemon(args, { env, prefix: 'sp-foa-' }), startDaemon(args, { env, prefix: 'sp-fob-' })]);
  dead = `127.0.0.1:${await freePort()}`;
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  dir.cleanup();
});

describe('several addresses', () => {
  it('--address dead,alive: calls and stats go to the live one', async () => {
    const alive = String(a.up.address);
    const exec = await runCli(['exec', 'add', 'a=1', 'b=2', '--idempotent', '--address', `${dead},${alive}`, '--token-file', tokenFile], { env });
    expect(exec.stderr).toBe('');
    expect(exec.stdout.trim()).toBe('3');
    const stats = await runCli(['stats', '--json', '--address', `${dead},${alive}`, '--token-file', tokenFile], { env });
    expect(stats.code, stats.stderr).toBe(0);
    expect((JSON.parse(stats.stdout) as { agent: { pid: number } }).agent.pid).toBe(a.pid);
    // Only dead addresses: the last one's error, exit 3.
    const none = await runCli(['exec', 'add', 'a=1', 'b=2', '--address', `${dead},${dead}`, '--token-file', tokenFile], { env });
    expect(none.code).toBe(3);
    expect(none.stderr).toContain(`[AGENT_UNAVAILABLE] no agent reachable at ${dead}`);
  });

  it('connect({ addresses }): when the agent in use stops, the next calls go to the other', async () => {
    const client = connect({ addresses: [String(a.up.address), String(b.up.address)], tokenFile });
    try {
      expect(await client.execute('add', { a: 1, b: 1 })).toBe(2);
      expect((await client.stats()).agent.pid).toBe(a.pid);
      await a.stop();
      expect(await client.execute('add', { a: 2, b: 2 }, { idempotent: true })).toBe(4);
      expect(await client.execute('add', { a: 3, b: 3 })).toBe(6); // never dispatched to the dead one: no need to be idempotent
      expect((await client.stats()).agent.pid).toBe(b.pid);
    } finally {
      client.close();
    }
  });

  it('drain --address drains a remote agent over the Agent API', async () => {
    const drain = await runCli(['drain', '--json', '--address', String(b.up.address), '--token-file', tokenFile], { env });
    expect(drain.code, drain.stderr).toBe(0);
    expect(JSON.parse(drain.stdout)).toEqual({ ok: true, drained: true, pid: b.pid });
    await waitFor(() => !pidAlive(b.pid), 10_000);
  });
});
