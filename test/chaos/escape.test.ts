// Escaped descendants: a tool's child that double-forks into its own session with an empty
// environment (no SNAKEPIT_RUN_ID, another process group) must still be found after the agent
// is SIGKILLed. Each containment the machine may offer is tried (SNAKEPIT_CONTAINMENT):
//  - cgroup2 / cgroup1: the escapee sits in its worker's cgroup, survives the agent, and
//    `doctor cleanup` (or the next `up`) kills it, then removes the cgroup;
//  - subreaper: the escapee re-parents to its worker, which kills it when the agent's death
//    takes the worker down.
// A graceful `down` takes it too. No cgroup of these runs is left behind.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, PYTHON, pidAlive, runCli, tempDir, waitFor } from '../helpers/env.js';
import { Recorded, procEnviron, removeRunCgroups, runCgroups, sessionOf } from '../security/helpers.js';

const dir = tempDir('sp-esc-');
const tools = join(FIXTURES, 'trust_tools.py');
const recorded = new Recorded();
const runs: string[] = [];

afterAll(async () => {
  recorded.killAll();
  for (const id of runs) removeRunCgroups(id);
  dir.cleanup();
});

interface Info {
  pid: number;
  workerPids: number[];
  runId: string;
  containment: string;
}

function setup(mode: string) {
  const home = join(dir.path, mode);
  const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config'), SNAKEPIT_CONTAINMENT: mode };
  const cli = (...args: string[]) => runCli([...args, '--home', home], { env });
  const up = async (): Promise<Info> => {
    const r = await cli('up', '--workers', '1', '--tools', tools);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8')) as Info;
    recorded.add(info.pid, ...info.workerPids);
    runs.push(info.runId);
    return info;
  };
  const escapee = async (info: Info): Promise<number> => {
    const r = await cli('exec', 'escape', '--json');
    expect(r.code, r.stderr).toBe(0);
    const pid = (JSON.parse(r.stdout) as { result: number }).result;
    recorded.add(pid);
    const worker = info.workerPids[0]!;
    expect(pidAlive(pid)).toBe(true);
    expect(sessionOf(pid)).not.toBe(sessionOf(worker)); // escaped the worker's session and group
    expect(procEnviron(pid)).toEqual({}); // and its environment (no SNAKEPIT_RUN_ID)
    return pid;
  };
  const crash = async (info: Info): Promise<void> => {
    process.kill(info.pid, 'SIGKILL');
    await waitFor(() => !pidAlive(info.pid) && info.workerPids.every((w) => !pidAlive(w)), 5000);
  };
  return { home, cli, up, escapee, crash };
}

describe.each(['cgroup2', 'cgroup1'])('containment %s', (mode) => {
  const { home, cli, up, escapee, crash } = setup(mode);

  it('doctor cleanup kills an escaped descendant of a SIGKILLed agent and removes its cgroup', async () => {
    const info = await up();
    const registry = JSON.parse(readFileSync(join(home, 'registry.json'), 'utf8')) as { runs: Record<string, { workers: Record<string, { containment?: string; cgroup?: string }> }> };
    const w = registry.runs[info.runId]!.workers[info.workerPids[0]!]!;
    const esc = await escapee(info);
    const members = w.cgroup ? readFileSync(join(w.cgroup, 'cgroup.procs'), 'utf8').split('\n').map(Number) : [];

    await crash(info);
    expect(pidAlive(esc)).toBe(true); // escaped the process group: it outlives the agent and its worker

    const doctor = await cli('doctor', '--json');
    expect((JSON.parse(doctor.stdout) as { checks: Array<{ name: string; detail: string }> }).checks.find((c) => c.name === 'orphans')!.detail).toContain(`pid ${esc} `);
    const r = await cli('doctor', 'cleanup', '--json');
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { killed: Array<{ pid: number; why: string }>; removedRuns: string[] };
    expect(doc.killed.map((k) => k.pid)).toEqual([esc]); // on the old code: [] (the escapee survives)
    expect(doc.killed[0]!.why).toContain('in the cgroup of worker default-0');
    expect(doc.removedRuns).toEqual([info.runId]);
    await waitFor(() => !pidAlive(esc), 2000);
    // How: the worker and its escapee were in the worker's own cgroup, which is gone now.
    expect(info.containment).toContain(mode === 'cgroup2' ? 'cgroup v2' : "cgroup v1 'pids'");
    expect(w.containment).toBe(mode);
    expect(members).toContain(esc);
    expect(existsSync(w.cgroup!)).toBe(false);
    expect(runCgroups(info.runId)).toEqual([]);
  });

  it('the next up after a crash kills it too; a graceful down takes a live escapee along', async () => {
    const first = await up();
    const esc = await escapee(first);
    await crash(first);
    const second = await up();
    await waitFor(() => !pidAlive(esc), 2000);
    expect(runCgroups(first.runId)).toEqual([]);

    const live = await escapee(second);
    const down = await cli('down');
    expect(down.code, down.stderr).toBe(0);
    await waitFor(() => !pidAlive(live), 5000);
    expect(runCgroups(second.runId)).toEqual([]);
    expect(existsSync(join(home, 'registry.json'))).toBe(false);
  });
});

describe('containment subreaper', () => {
  const { home, cli, up, escapee, crash } = setup('subreaper');

  it('the worker kills its re-parented escapee when the agent’s death takes it down', async () => {
    const info = await up();
    const esc = await escapee(info);
    // Orphaned by its intermediate parent, it re-parented to the worker, not to init.
    const ppid = Number(readFileSync(`/proc/${esc}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
    await crash(info);
    await waitFor(() => !pidAlive(esc), 5000).catch(() => {});
    expect(pidAlive(esc)).toBe(false); // on the old code: alive, re-parented to init
    expect(ppid).toBe(info.workerPids[0]);
    expect(info.containment).toContain('child subreaper');
    const r = await cli('doctor', 'cleanup', '--json');
    expect(JSON.parse(r.stdout)).toMatchObject({ found: [], removedRuns: [info.runId] });
    expect(existsSync(join(home, 'registry.json'))).toBe(false);
  });
});
