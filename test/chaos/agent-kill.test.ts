// Chaos: SIGKILL the agent. Its workers go at once, but a tool's grandchild (same process group,
// survives its worker) is left; `doctor` reports it, `doctor cleanup` kills it and nothing else:
// decoys with the same command line and environment (in their own process groups) survive.
// The next `up` after a crash cleans up by itself, and a graceful `down` takes tools' children too.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, PYTHON, killPids, pidAlive, runCli, tempDir, waitFor } from '../helpers/env.js';

const dir = tempDir('sp-doc-');
const home = join(dir.path, 'h');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };
const cli = (...args: string[]) => runCli([...args, '--home', home], { env });
const tools = join(FIXTURES, 'orphan_tools.py');
/** Every process this file starts or learns about, killed by pid at the end. */
const recorded: number[] = [];

afterAll(async () => {
  await cli('down');
  killPids(recorded.filter(pidAlive));
  dir.cleanup();
});

interface Info {
  pid: number;
  workerPids: number[];
  runId: string;
}
const info = (): Info => JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8')) as Info;

function procArgs(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}
function procEnv(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean)) {
    const eq = kv.indexOf('=');
    out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

/** Starts `args` with exactly `environment`, detached (its own process group), and records it. */
function decoy(args: string[], environment: Record<string, string>, cwd: string): number {
  const child = spawn(args[0]!, args.slice(1), { env: environment, cwd, detached: true, stdio: 'ignore' });
  child.unref();
  recorded.push(child.pid!);
  return child.pid!;
}

async function upWithTools(): Promise<Info> {
  const up = await cli('up', '--workers', '2', '--tools', tools);
  expect(up.code, up.stderr).toBe(0);
  const i = info();
  recorded.push(i.pid, ...i.workerPids);
  return i;
}

async function grandchild(): Promise<number> {
  const r = await cli('exec', 'spawn_grandchild', '--json');
  expect(r.code, r.stderr).toBe(0);
  const pid = (JSON.parse(r.stdout) as { result: number }).result;
  recorded.push(pid);
  return pid;
}

async function crash(i: Info): Promise<void> {
  process.kill(i.pid, 'SIGKILL');
  await waitFor(() => !pidAlive(i.pid) && i.workerPids.every((w) => !pidAlive(w)), 5000);
}

const pidsOf = (list: Array<{ pid: number }>): number[] => list.map((o) => o.pid).sort((a, b) => a - b);

describe('orphans of a SIGKILLed agent', () => {
  let run: Info;
  let gc: number;
  const decoys: number[] = [];

  it('workers die with the agent; the tool grandchild is left over', async () => {
    run = await upWithTools();
    gc = await grandchild();
    const registry = JSON.parse(readFileSync(join(home, 'registry.json'), 'utf8')) as { runs: Record<string, { agentPid: number; workers: Record<string, { pgid: number }> }> };
    expect(registry.runs[run.runId]?.agentPid).toBe(run.pid);
    expect(Object.keys(registry.runs[run.runId]!.workers).map(Number).sort()).toEqual([...run.workerPids].sort());

    // Decoys: exactly a worker's and the grandchild's command line and environment (run id
    // included), but each in a process group of its own. The worker decoy runs a stand-in
    // `snakepit` package from its cwd, which python -m finds before PYTHONPATH.
    const worker = run.workerPids[0]!;
    const [workerArgs, workerEnv, gcArgs, gcEnv] = [procArgs(worker), procEnv(worker), procArgs(gc), procEnv(gc)];
    expect(workerEnv.SNAKEPIT_RUN_ID).toBe(run.runId);
    expect(gcEnv.SNAKEPIT_RUN_ID).toBe(run.runId);
    const shadow = join(dir.path, 'shadow');
    mkdirSync(join(shadow, 'snakepit'), { recursive: true });
    writeFileSync(join(shadow, 'snakepit', '__init__.py'), '');
    writeFileSync(join(shadow, 'snakepit', '__main__.py'), 'import time\ntime.sleep(300)\n');

    await crash(run);
    expect(pidAlive(gc)).toBe(true);

    decoys.push(decoy(workerArgs, workerEnv, shadow), decoy(gcArgs, gcEnv, dir.path));
    await waitFor(() => decoys.every((d) => pidAlive(d) && procArgs(d).join(' ') === (d === decoys[0] ? workerArgs : gcArgs).join(' ')));
    expect(procEnv(decoys[0]!)).toEqual(workerEnv);
    expect(procEnv(decoys[1]!)).toEqual(gcEnv);
  });

  it('doctor reports the orphan (and the stale files) and exits 1', async () => {
    const r = await cli('doctor', '--json');
    expect(r.code, r.stderr).toBe(1);
    const doc = JSON.parse(r.stdout) as { ok: boolean; checks: Array<{ name: string; ok: boolean; detail: string; fix?: string }> };
    expect(doc.ok).toBe(false);
    const byName = Object.fromEntries(doc.checks.map((c) => [c.name, c]));
    expect(Object.keys(byName)).toEqual(['python', 'home', 'agent', 'version', 'stale files', 'orphans', 'containment', 'process facts']);
    expect(byName.orphans).toMatchObject({ ok: false, fix: expect.stringContaining('doctor cleanup') });
    expect(byName.orphans!.detail).toContain(`pid ${gc} `);
    for (const d of decoys) expect(byName.orphans!.detail).not.toContain(`pid ${d} `);
    expect(byName['stale files']!.ok).toBe(false);
    expect(byName.agent!.ok).toBe(true); // no agent running is information, not a failure
    expect(byName.python!.ok).toBe(true);
    expect(byName.home!.ok).toBe(true);
  });

  it('cleanup --dry-run lists the grandchild and signals nothing', async () => {
    const r = await cli('doctor', 'cleanup', '--dry-run', '--json');
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { dryRun: boolean; found: Array<{ pid: number; runId: string; cmdline: string[]; why: string }>; killed: unknown[] };
    expect(doc.dryRun).toBe(true);
    expect(pidsOf(doc.found)).toEqual([gc]);
    expect(doc.found[0]).toMatchObject({ runId: run.runId });
    expect(doc.found[0]!.cmdline.join(' ')).toBe('sleep 300'); // the ps source has it as one string
    expect(doc.killed).toEqual([]);
    expect(pidAlive(gc)).toBe(true);
  });

  it('cleanup kills the grandchild, spares the decoys, and forgets the dead run', async () => {
    const r = await cli('doctor', 'cleanup', '--json');
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { ok: boolean; killed: Array<{ pid: number }>; survived: unknown[]; removedRuns: string[] };
    expect(doc).toMatchObject({ ok: true, survived: [], removedRuns: [run.runId] });
    expect(pidsOf(doc.killed)).toEqual([gc]);
    expect(pidAlive(gc)).toBe(false);
    for (const d of decoys) expect(pidAlive(d)).toBe(true);

    const again = await cli('doctor', 'cleanup', '--json');
    expect(JSON.parse(again.stdout)).toMatchObject({ found: [], killed: [] });
    expect(existsSync(join(home, 'registry.json'))).toBe(false);
  });

  it('the next up after a crash cleans up by itself; a graceful down takes tools’ children along', async () => {
    const first = await upWithTools();
    const left = await grandchild();
    await crash(first);
    expect(pidAlive(left)).toBe(true);

    const up = await cli('up', '--workers', '1', '--tools', tools);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain(`killed orphan pid ${left} of dead run ${first.runId}`);
    const second = info();
    recorded.push(second.pid, ...second.workerPids);
    expect(pidAlive(left)).toBe(false);
    for (const d of decoys) expect(pidAlive(d)).toBe(true);

    const healthy = await cli('doctor', '--json');
    expect(healthy.code, healthy.stdout).toBe(0);
    const checks = (JSON.parse(healthy.stdout) as { checks: Array<{ name: string; ok: boolean; detail: string }> }).checks;
    expect(checks.every((c) => c.ok)).toBe(true);
    expect(checks.find((c) => c.name === 'agent')!.detail).toContain(`pid ${second.pid} answers`);

    chmodSync(home, 0o755);
    const loose = await cli('doctor');
    chmodSync(home, 0o700);
    expect(loose.code).toBe(1);
    expect(loose.stdout).toMatch(/^FAIL +home .*mode 0755/m);
    expect(loose.stdout).toContain(`fix: chmod 700 ${home}`);

    const child = await grandchild();
    const down = await cli('down');
    expect(down.code, down.stderr).toBe(0);
    expect(pidAlive(child)).toBe(false);
    expect(existsSync(join(home, 'registry.json'))).toBe(false);
    for (const d of decoys) expect(pidAlive(d)).toBe(true);
  });
});
