// The two sources of process facts agree on real processes of this (Linux) machine: /proc, and
// ps + lsof as macOS and other Unixes use them. Processes: a detached leader (its own session
// and group, as a worker) with a group member, a zombie and a child that leads its own group;
// an orphan whose group leader was killed; a plain child of this process. Session ids are also
// derived from the table the way macOS needs (its ps shows none) and checked against the real ones.
// Run in the ps-facts test project too, where it proves SNAKEPIT_PROC_FACTS=ps reaches the CLI.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chooseProcFacts, isAlive, processSource } from '../../src/proc.js';
import { linuxSource } from '../../src/proc/linux.js';
import { psSource } from '../../src/proc/ps.js';
import { PYTHON, killPids, runCli, tempDir, waitFor } from '../helpers/env.js';

const linux = linuxSource();
const ps = psSource();
const derived = psSource({ sessions: 'derive' });
const dir = tempDir('sp-facts-');
const recorded: number[] = [];
const RUN = `agree-${process.pid}`;
const env = { ...process.env, SNAKEPIT_RUN_ID: RUN, FOO: 'a b  c' };

afterAll(() => {
  killPids(recorded);
  dir.cleanup();
});

/** Starts `sh -c script`; resolves with its pid and the first `lines` lines it prints. */
function start(script: string, lines: number, detached = true): Promise<{ pid: number; printed: number[] }> {
  const p = spawn('sh', ['-c', script], { detached, env, stdio: ['ignore', 'pipe', 'ignore'] });
  recorded.push(p.pid!);
  return new Promise((resolve, reject) => {
    let out = '';
    p.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const got = out.split('\n').filter(Boolean).map(Number);
      if (got.length >= lines) {
        recorded.push(...got);
        resolve({ pid: p.pid!, printed: got });
      }
    });
    p.on('exit', () => reject(new Error(`sh exited early: ${out}`)));
  });
}

let leader: number, member: number, zombie: number, groupLeader: number, orphan: number, deadLeader: number, plain: number;

beforeAll(async () => {
  // The leader execs `sleep 61`, which never reaps: its `sleep 0` child stays a zombie.
  const a = await start(`${PYTHON} -c 'import os, time; os.setpgid(0, 0); time.sleep(60)' & echo $!; sleep 60 & echo $!; sleep 0 & echo $!; exec sleep 61`, 3);
  [leader, groupLeader, member, zombie] = [a.pid, ...a.printed] as [number, number, number, number];
  const b = await start('sleep 62 & echo $!; exec sleep 63', 1);
  orphan = b.printed[0]!;
  deadLeader = b.pid;
  await waitFor(() => linux.identity(zombie)?.state === 'Z' && linux.facts(groupLeader)?.pgid === groupLeader && linux.facts(b.pid)?.state === 'S');
  process.kill(b.pid, 'SIGKILL');
  await waitFor(() => linux.facts(orphan)?.ppid !== b.pid);
  await new Promise((r) => setTimeout(r, 1100)); // a start time in another second than the others
  const c = spawn('sleep', ['64'], { env, stdio: 'ignore' });
  recorded.push(c.pid!);
  plain = c.pid!;
  await waitFor(() => linux.commandLine(plain)?.[0] === 'sleep');
});

describe('ps and /proc', () => {
  it('agree on parent, group, session, uid and state', () => {
    for (const pid of [process.pid, process.ppid, leader, member, groupLeader, orphan, plain]) {
      const [l, p] = [linux.facts(pid), ps.facts(pid)];
      expect(l, `pid ${pid}`).toBeDefined();
      expect(p, `pid ${pid}`).toMatchObject({ pid, ppid: l!.ppid, pgid: l!.pgid, sid: l!.sid, uid: l!.uid });
    }
    for (const pid of [leader, member, orphan, plain]) expect([linux.facts(pid)!.state, ps.facts(pid)!.state]).toEqual(['S', 'S']);
    // The layout the ownership rules rely on, seen alike by both.
    expect(ps.facts(member)).toMatchObject({ pgid: leader, sid: leader, ppid: leader });
    expect(ps.facts(orphan)).toMatchObject({ pgid: deadLeader, sid: deadLeader });
    expect(ps.identity(deadLeader)).toBeUndefined();
  });

  it('derive the real session of leaders, members, a group leader, and an orphan of a dead leader', () => {
    for (const pid of [leader, member, zombie, groupLeader, orphan]) expect(derived.facts(pid)!.sid, `pid ${pid}`).toBe(linux.facts(pid)!.sid);
    const table = new Map(derived.table((f) => [leader, member, groupLeader, orphan].includes(f.pid)).map((f) => [f.pid, f.sid]));
    expect(table).toEqual(new Map([leader, member, groupLeader, orphan].map((p) => [p, linux.facts(p)!.sid])));
  });

  it('see a zombie as not alive, and a gone process as gone', async () => {
    expect([linux.identity(zombie)?.state, ps.identity(zombie)?.state]).toEqual(['Z', 'Z']);
    expect(isAlive(zombie)).toBe(false);
    const gone = spawn('sleep', ['0']);
    await new Promise((r) => gone.on('exit', r));
    await waitFor(() => linux.identity(gone.pid!) === undefined);
    expect(ps.identity(gone.pid!)).toBeUndefined();
    expect(ps.facts(gone.pid!)).toBeUndefined();
  });

  it('give a start time that is stable, differs between processes, and matches /proc’s (ticks since boot)', () => {
    const t = ps.identity(leader)!.startTime;
    expect([ps.identity(leader)!.startTime, ps.facts(leader)!.startTime, ps.table((f) => f.pid === leader)[0]!.startTime]).toEqual([t, t, t]);
    expect(ps.identity(plain)!.startTime).toBeGreaterThan(t); // started more than a second later
    expect(ps.identity(process.pid)!.startTime).toBeLessThanOrEqual(t);
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))![1]);
    for (const pid of [leader, plain, process.pid]) {
      const fromProc = (btime + linux.identity(pid)!.startTime / 100) * 1000; // USER_HZ is 100 on Linux
      const diff = fromProc - ps.identity(pid)!.startTime;
      expect(diff, `pid ${pid}`).toBeGreaterThanOrEqual(0);
      expect(diff, `pid ${pid}`).toBeLessThan(1000);
    }
  });

  it('agree on RSS (within a factor of 2) and on the command line', async () => {
    ps.rssBytes(member); // the first call starts the shared snapshot
    await waitFor(() => ps.rssBytes(member) > 0, 5000);
    const ratio = ps.rssBytes(member) / linux.rssBytes(member);
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
    expect(ps.rssBytes(4_000_000)).toBe(0);
    expect(ps.commandLine(member)).toEqual([linux.commandLine(member)!.join(' ')]);
    expect(ps.commandLine(groupLeader)).toEqual([linux.commandLine(groupLeader)!.join(' ')]);
  });

  it('agree on environment variables, spaces in values included, for several processes at once', () => {
    const pids = [leader, member, groupLeader, orphan, plain, process.pid];
    expect(ps.environValues(pids, 'SNAKEPIT_RUN_ID')).toEqual(linux.environValues(pids, 'SNAKEPIT_RUN_ID'));
    expect(ps.environValues(pids, 'SNAKEPIT_RUN_ID')).toEqual(new Map([leader, member, groupLeader, orphan, plain].map((p) => [p, RUN])));
    expect(ps.environValues([member], 'FOO')).toEqual(new Map([[member, 'a b  c']]));
    expect(ps.environValues([4_000_000], 'FOO').size).toBe(0);
  });

  it('agree on a table scan', () => {
    const ours = (f: { pid: number }): boolean => [leader, member, zombie, groupLeader, orphan, plain].includes(f.pid);
    const strip = (fs: Array<{ pid: number; state: string; startTime: number }>) => fs.map(({ state: _s, startTime: _t, ...rest }) => rest).sort((a, b) => a.pid - b.pid);
    expect(strip(ps.table(ours))).toEqual(strip(linux.table(ours)));
    expect(ps.table(ours)).toHaveLength(6);
  });

  it('agree on which process holds a file open (by inode: a symbolic link to it too)', () => {
    const file = join(dir.path, 'held');
    writeFileSync(file, 'x');
    symlinkSync(file, join(dir.path, 'link'));
    const fd = openSync(file, 'r');
    try {
      for (const src of [linux, ps]) {
        expect(src.holdsOpen(process.pid, file), src.kind).toBe(true);
        expect(src.holdsOpen(process.pid, join(dir.path, 'link')), src.kind).toBe(true);
        expect(src.holdsOpen(leader, file), src.kind).toBe(false);
        expect(src.holdsOpen(4_000_000, file), src.kind).toBe(false);
        expect(src.holdsOpen(process.pid, join(dir.path, 'missing')), src.kind).toBe(false);
      }
    } finally {
      closeSync(fd);
    }
    expect([linux.holdsOpen(process.pid, file), ps.holdsOpen(process.pid, file)]).toEqual([false, false]);
  });
});

describe('the source in use', () => {
  it('is the one the test project asks for, here and in the CLI this test starts', async ({ task }) => {
    const expected = task.file.projectName?.startsWith('ps-facts') ? 'ps' : chooseProcFacts(process.env, process.platform, () => true);
    expect(processSource().kind).toBe(expected);
    const r = await runCli(['doctor', '--json', '--home', join(dir.path, 'home')], { env: { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') } });
    const checks = (JSON.parse(r.stdout) as { checks: Array<{ name: string; ok: boolean; detail: string }> }).checks;
    expect(checks.find((c) => c.name === 'process facts')).toEqual({ name: 'process facts', ok: true, detail: expected === 'ps' ? 'read with ps and lsof' : 'read from /proc' });
  });
});
