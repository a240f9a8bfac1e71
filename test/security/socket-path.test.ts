// The home's longest unix socket (exchange.sock, the local lane) must fit sun_path. Homes of
// 94–96 bytes used to pass a check made on agent.sock only; from 95 bytes Node truncated the
// lane's path (a stray socket file) and `up` failed with INTERNAL ENOENT on its chmod (94 only
// worked because Linux takes a 108-byte path without its NUL). Now the longest socket is checked
// against the portable 107 bytes up front: CONFIG_INVALID naming the socket and the limit,
// nothing created. 93 bytes still works.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PYTHON, runCli, tempDir } from '../helpers/env.js';
import { Recorded } from './helpers.js';

const dir = tempDir('sp-sock-');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };
const recorded = new Recorded();
const homeOf = (bytes: number): string => join(dir.path, 'h'.repeat(bytes - dir.path.length - 1));

afterAll(async () => {
  for (const bytes of [93, 94, 95, 96]) await runCli(['down', '--home', homeOf(bytes)], { env });
  recorded.killAll();
  dir.cleanup();
});

describe('home path length', () => {
  it.each([94, 95, 96, 120])('a %i-byte home fails with CONFIG_INVALID before anything is made', async (bytes) => {
    const home = homeOf(bytes);
    expect(Buffer.byteLength(home)).toBe(bytes);
    const r = await runCli(['up', '--workers', '1', '--home', home, '--json'], { env });
    expect(r.code, r.stderr).toBe(2);
    const err = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain(`${home}/exchange.sock is ${bytes + 14} bytes, the limit is 107`);
    expect(err.message).toContain("use a --home of at most 93 bytes");
    expect(existsSync(home)).toBe(false);
    expect(readdirSync(dir.path).filter((f) => f.startsWith('h'))).toEqual([]); // no stray, truncated socket
  });

  it('a 93-byte home starts and stops', async () => {
    const home = homeOf(93);
    const r = await runCli(['up', '--workers', '1', '--home', home, '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    recorded.add((JSON.parse(r.stdout) as { pid: number }).pid);
    expect(readdirSync(home)).toEqual(expect.arrayContaining(['agent.sock', 'exchange.sock']));
    expect((await runCli(['down', '--home', home], { env })).code).toBe(0);
  });
});
