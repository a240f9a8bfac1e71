// Crash traces survive log rotation. The daemon's stdout/stderr used to be agent.log itself, so
// after two rotations fd 2 pointed at a deleted agent.log.1 and whatever the daemon wrote there
// (an uncaught exception's trace, a fatal V8 error) was lost. Now fd 1/2 are logs/crash.log,
// which is never rotated under a running daemon. Proof by writing to the daemon's real stderr:
// Node's diagnostic report on SIGUSR2 (--report-filename=stderr) must land in a file we can read.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, PYTHON, runCli, tempDir, waitFor } from '../helpers/env.js';
import { Recorded } from '../security/helpers.js';

const dir = tempDir('sp-crash-');
const home = join(dir.path, 'h');
const env = {
  SNAKEPIT_PYTHON: PYTHON,
  SNAKEPIT_CONFIG_DIR: join(dir.path, 'config'),
  SNAKEPIT_LOG_MAX_BYTES: '20000',
  SNAKEPIT_DAEMON_NODE_FLAGS: '--max-semi-space-size=1 --report-on-signal --report-signal=SIGUSR2 --report-filename=stderr',
};
const cli = (...args: string[]) => runCli([...args, '--home', home], { env });
const recorded = new Recorded();

afterAll(async () => {
  await cli('down');
  recorded.killAll();
  dir.cleanup();
});

describe('the daemon’s stderr after log rotations', () => {
  it('still reaches a live file, so a crash trace is kept', async () => {
    const up = await cli('up', '--workers', '1', '--tools', join(FIXTURES, 'trust_tools.py'), '--json');
    expect(up.code, up.stderr).toBe(0);
    const { pid } = JSON.parse(up.stdout) as { pid: number };
    recorded.add(pid);
    const log = join(home, 'logs', 'agent.log');

    // Rotate at least twice: agent.log.1 is replaced, so an fd on the first one points at a deleted file.
    const inodes = new Set<number>();
    for (let i = 0; i < 6 && inodes.size < 2; i++) {
      expect((await cli('exec', 'chatter', 'lines=150')).code).toBe(0);
      if (existsSync(`${log}.1`)) inodes.add(statSync(`${log}.1`).ino);
    }
    expect(inodes.size).toBeGreaterThanOrEqual(2);

    const stderr = readlinkSync(`/proc/${pid}/fd/2`);
    expect(stderr).not.toMatch(/\(deleted\)$/); // on the old code: …/agent.log.1 (deleted)
    expect(existsSync(stderr)).toBe(true);

    process.kill(pid, 'SIGUSR2'); // Node writes its diagnostic report to fd 2
    const files = [join(home, 'logs', 'crash.log'), log, `${log}.1`];
    const reported = (): boolean => files.some((f) => existsSync(f) && readFileSync(f, 'utf8').includes(`"processId": ${pid}`));
    await waitFor(reported, 5000);
    expect(readFileSync(join(home, 'logs', 'crash.log'), 'utf8')).toContain('"event": "SIGUSR2"');
  });
});
