// Containment: mountinfo parsing on synthetic text, and `provenCgroup`, the check that keeps a
// forged registry from passing off the root cgroup (or any cgroup not made for that run) as a
// worker's, whose members cleanup would then kill. The real-cgroup part uses what this machine
// allows (a cgroup, else the subreaper fallback) and removes what it makes.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, rmdirSync, symlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { cgroupMounts, containWorker, probeContainment, provenCgroup, removeCgroup } from '../../src/agent/containment.js';
import { tempDir } from '../helpers/env.js';

const RUN = '11111111-2222-3333-4444-555555555555';
const made: string[] = [];
const dir = tempDir('sp-cont-');

afterAll(() => {
  for (const cg of made) removeCgroup(cg);
  dir.cleanup();
});

describe('cgroupMounts', () => {
  it('finds the cgroup2 mount and v1’s pids hierarchy, mount roots and escapes included', () => {
    const info = [
      '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
      '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
      '39 31 0:36 /ns /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
      '41 31 0:38 / /sys/fs/cgroup/uni\\040fied rw,relatime shared:9 - cgroup2 cgroup2 rw',
    ].join('\n');
    expect(cgroupMounts(info)).toEqual({ v2: { root: '/', point: '/sys/fs/cgroup/uni fied' }, v1pids: { root: '/ns', point: '/sys/fs/cgroup/pids' } });
    expect(cgroupMounts('')).toEqual({});
  });
});

describe('provenCgroup', () => {
  const mounts = cgroupMounts();
  const point = mounts.v2?.point ?? mounts.v1pids?.point ?? '/sys/fs/cgroup';

  it('refuses paths a forged registry could name', () => {
    for (const p of [
      point, // the root cgroup: every process on the host
      `${point}/`,
      `${point}/init.scope`,
      `${point}/snakepit-${RUN}-x/../..`,
      `${point}/snakepit-other-run-x`,
      `/tmp/snakepit-${RUN}-x`, // not a cgroup at all
      `snakepit-${RUN}-x`, // relative
      42,
      undefined,
    ]) {
      expect(provenCgroup(p, RUN), String(p)).toBe(false);
    }
    expect(provenCgroup(`${point}/snakepit-${RUN}-x`, '../etc')).toBe(false);
  });

  it('accepts the cgroup it made for the run, and only for that run; not a symlink to it', () => {
    const plan = probeContainment('auto');
    const c = containWorker(RUN, 'default-0', plan);
    if (plan.kind === 'subreaper') {
      // No writable cgroup on this machine: the fallback is what a worker gets.
      expect(c).toMatchObject({ kind: 'subreaper', cgroup: undefined, env: { SNAKEPIT_SUBREAPER: '1' } });
      return;
    }
    made.push(c.cgroup!);
    expect(c.env).toEqual({ SNAKEPIT_CGROUP: c.cgroup });
    expect(basename(c.cgroup!)).toMatch(new RegExp(`^snakepit-${RUN}-default-0-${process.pid}-\\d+$`));
    expect(provenCgroup(c.cgroup, RUN)).toBe(true);
    expect(provenCgroup(c.cgroup, 'another-run')).toBe(false);
    // A look-alike name outside any cgroup mount, reached through a symlink, proves nothing.
    const fake = join(dir.path, `snakepit-${RUN}-fake`);
    mkdirSync(fake);
    symlinkSync(dirname(c.cgroup!), join(dir.path, 'cg'));
    expect(provenCgroup(fake, RUN)).toBe(false);
    expect(provenCgroup(join(dir.path, 'cg', basename(c.cgroup!)), RUN)).toBe(false);
    rmdirSync(fake);
    expect(removeCgroup(c.cgroup!)).toBe(true);
    expect(provenCgroup(c.cgroup, RUN)).toBe(false); // gone
  });
});
