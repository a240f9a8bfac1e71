// Shared test fixtures: a private temporary home and config dir per test file, the CLI runner,
// and process checks. Every process a test starts is tracked by pid and killed by pid.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'bin/snakepit.js');
export const FIXTURES = join(ROOT, 'test/fixtures');

/** The interpreter tests use: SNAKEPIT_PYTHON if set, else python3's real executable. */
export const PYTHON: string =
  process.env.SNAKEPIT_PYTHON ??
  spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).stdout.trim();

export function tempDir(prefix = 'sp-'): { path: string; cleanup(): void } {
  // Short paths: unix socket paths must stay under 108 bytes.
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI with a private config dir; never inherits a developer's SNAKEPIT_HOME. */
export function runCli(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    const env: Record<string, string> = { ...(process.env as Record<string, string>), NO_COLOR: '1', ...opts.env };
    delete env.SNAKEPIT_HOME;
    if (opts.env?.SNAKEPIT_HOME) env.SNAKEPIT_HOME = opts.env.SNAKEPIT_HOME;
    execFile(process.execPath, [CLI, ...args], { env, cwd: opts.cwd ?? ROOT, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** A loopback port that was free a moment ago (bound to port 0, then closed). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie has exited already.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, stepMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** SIGKILLs processes a test recorded (by pid, never by name). */
/** A daemon's pid and its workers' pids, as its home's agent.json records them (what a test must kill if it is left). */
export function daemonPids(home: string): number[] {
  const info = JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8')) as { pid: number; workerPids?: number[] };
  return [info.pid, ...(info.workerPids ?? [])];
}

export function killPids(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
