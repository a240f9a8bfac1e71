// Containment of each worker's descendants, so that a tool's child that escapes its process group
// (double fork into its own session, a scrubbed environment) is still found: by the pool when the
// worker exits, and by `doctor cleanup` / the next `up` after the agent was SIGKILLed.
//
// What the machine allows is probed at run time, never assumed, in this order:
//  - `cgroup2`: a cgroup v2 directory per worker under the agent's own cgroup (needs write access
//    there: root, or a delegated subtree such as systemd's user@.service);
//  - `cgroup1`: the same in cgroup v1's `pids` hierarchy;
//  - `subreaper`: no writable cgroup. The worker makes itself a child subreaper
//    (PR_SET_CHILD_SUBREAPER) so orphans re-parent to it, and kills them whenever it leaves
//    (python/snakepit/containment.py). Not covered: a worker killed by SIGKILL itself.
// The worker joins its cgroup itself (SNAKEPIT_CGROUP) first thing in start_process, before any
// tool code is imported. The agent does not move it: a write to cgroup.procs takes the kernel's
// cgroup threadgroup lock (measured here: 0.25 ms median, up to 17 ms on cgroup v2) and would
// block the agent's event loop at every spawn. The cgroup path is recorded in the process
// registry; a recorded path is believed only when `provenCgroup` can check it is one of ours
// (under a cgroup mount, not a symlink, owned by us, named after the run), and is removed once
// empty.
import { lstatSync, mkdirSync, readFileSync, realpathSync, rmdirSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, normalize } from 'node:path';
import { DEFAULTS, ENV } from '../defaults.js';
import type { ContainmentKind } from './events.js';

export type { ContainmentKind };
export type ContainmentMode = 'auto' | ContainmentKind;
export const CONTAINMENT_MODES: readonly ContainmentMode[] = ['auto', 'cgroup2', 'cgroup1', 'subreaper'];

/** What a new worker of this process gets. */
export interface ContainmentPlan {
  kind: ContainmentKind;
  /** Directory under which worker cgroups are made (cgroup kinds only). */
  base?: string;
  /** Why this kind (what was tried and failed), for `doctor` and the log. */
  detail: string;
}

/** One worker's containment, created just before it is spawned. */
export interface WorkerContainment {
  kind: ContainmentKind;
  /** The worker's own cgroup directory (cgroup kinds only). */
  cgroup: string | undefined;
  /** Environment the worker needs to contain itself. */
  env: Record<string, string>;
  /** A problem to log (the worker still starts), e.g. a cgroup that could not be made. */
  warning: string | undefined;
}

interface Mount {
  point: string;
  root: string;
}

/** cgroup mounts from /proc/self/mountinfo: the v2 one and v1's `pids` hierarchy. */
export function cgroupMounts(mountinfo = readText('/proc/self/mountinfo') ?? ''): { v2?: Mount; v1pids?: Mount } {
  const out: { v2?: Mount; v1pids?: Mount } = {};
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const f = left.split(' ');
    const [fstype, , superOpts] = right.split(' ');
    const mount = { root: unescapeMount(f[3] ?? ''), point: unescapeMount(f[4] ?? '') };
    if (fstype === 'cgroup2' && !out.v2) out.v2 = mount;
    if (fstype === 'cgroup' && (superOpts ?? '').split(',').includes('pids') && !out.v1pids) out.v1pids = mount;
  }
  return out;
}

/** The directory of `pid`'s own cgroup in the hierarchy of `kind`, or undefined. */
export function ownCgroupDir(kind: 'cgroup2' | 'cgroup1', pid: number | 'self' = 'self'): string | undefined {
  const mounts = cgroupMounts();
  const mount = kind === 'cgroup2' ? mounts.v2 : mounts.v1pids;
  if (!mount) return undefined;
  for (const line of (readText(`/proc/${pid}/cgroup`) ?? '').split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const isV2 = m[1] === '0' && m[2] === '';
    if (kind === 'cgroup2' ? !isV2 : !m[2]!.split(',').includes('pids')) continue;
    let path = m[3]!;
    if (mount.root !== '/' && (path === mount.root || path.startsWith(`${mount.root}/`))) path = path.slice(mount.root.length) || '/';
    return normalize(join(mount.point, path)).replace(/(.)\/+$/, '$1');
  }
  return undefined;
}

let cached: { mode: ContainmentMode; plan: ContainmentPlan } | undefined;
let probeSeq = 0;

/** The containment mode asked for: SNAKEPIT_CONTAINMENT, else DEFAULTS.containment. */
export function containmentMode(env: NodeJS.ProcessEnv = process.env): ContainmentMode {
  const raw = env[ENV.containment];
  return raw && (CONTAINMENT_MODES as readonly string[]).includes(raw) ? (raw as ContainmentMode) : DEFAULTS.containment;
}

/** What this machine allows for `mode` (probed once per process and mode, by making a cgroup). */
export function probeContainment(mode: ContainmentMode = containmentMode()): ContainmentPlan {
  if (cached?.mode === mode) return cached.plan;
  const tried: string[] = [];
  const kinds: Array<'cgroup2' | 'cgroup1'> = mode === 'auto' ? ['cgroup2', 'cgroup1'] : mode === 'subreaper' ? [] : [mode];
  let plan: ContainmentPlan | undefined;
  for (const kind of kinds) {
    const base = ownCgroupDir(kind);
    if (!base) {
      tried.push(`${kind}: not mounted`);
      continue;
    }
    const probe = join(base, `snakepit-probe-${process.pid}-${probeSeq++}`);
    try {
      mkdirSync(probe);
      rmdirSync(probe);
      plan = { kind, base, detail: `${kind === 'cgroup2' ? 'cgroup v2' : "cgroup v1 'pids'"}: one cgroup per worker under ${base}` };
      break;
    } catch (err) {
      tried.push(`${kind}: cannot make a cgroup in ${base} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  if (mode === 'subreaper') tried.push(`${ENV.containment}=subreaper`);
  plan ??= {
    kind: 'subreaper',
    detail: `child subreaper (${tried.join('; ')}): a worker kills its orphaned descendants when it exits, but not when it is itself SIGKILLed`,
  };
  cached = { mode, plan };
  return plan;
}

let seq = 0;

/** Makes the containment of one worker about to be spawned. Never throws: it degrades. */
export function containWorker(runId: string, workerId: string, plan: ContainmentPlan = probeContainment()): WorkerContainment {
  const subreaper = (warning?: string): WorkerContainment => ({ kind: 'subreaper', cgroup: undefined, env: { SNAKEPIT_SUBREAPER: '1' }, warning });
  if (plan.kind === 'subreaper' || !plan.base) return subreaper();
  const dir = join(plan.base, `${cgroupPrefix(runId)}${workerId.replace(/[^A-Za-z0-9_.-]/g, '_')}-${process.pid}-${seq++}`);
  try {
    mkdirSync(dir);
  } catch (err) {
    return subreaper(`could not make cgroup ${dir} (${(err as Error).message}); this worker uses a child subreaper`);
  }
  return { kind: plan.kind, cgroup: dir, env: { SNAKEPIT_CGROUP: dir }, warning: undefined };
}

/** Worker cgroups of run `runId` are named `snakepit-<runId>-…`. */
export function cgroupPrefix(runId: string): string {
  return `snakepit-${runId}-`;
}

/**
 * Whether a cgroup path read from the registry is one this user made for run `runId`: an
 * absolute, normalized path strictly inside a cgroup mount, no symlink on the way, a directory
 * owned by us, named `snakepit-<runId>-…`. A forged path (the root cgroup, another service's
 * cgroup) fails, so its members are never taken for ours.
 */
export function provenCgroup(path: unknown, runId: string): path is string {
  if (typeof path !== 'string' || !isAbsolute(path) || normalize(path) !== path) return false;
  if (!/^[A-Za-z0-9-]+$/.test(runId)) return false;
  const name = basename(path);
  if (!name.startsWith(cgroupPrefix(runId)) || !/^[A-Za-z0-9_.-]+$/.test(name)) return false;
  const mounts = cgroupMounts();
  const inside = [mounts.v2?.point, mounts.v1pids?.point].some((m) => m !== undefined && path.startsWith(`${m === '/' ? '' : m}/`) && path !== m);
  if (!inside) return false;
  try {
    if (realpathSync(dirname(path)) !== dirname(path)) return false;
    const st = lstatSync(path);
    return st.isDirectory() && st.uid === process.getuid?.();
  } catch {
    return false;
  }
}

/** Pids in a cgroup (cgroup.procs), empty when it is gone. */
export function cgroupMembers(path: string): number[] {
  return (readText(join(path, 'cgroup.procs')) ?? '')
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** Removes an empty worker cgroup; true when it is gone (or was never there). */
export function removeCgroup(path: string): boolean {
  try {
    rmdirSync(path);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}
