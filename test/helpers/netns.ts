// Simulated hosts for the multi-host tests: each "host" is a network namespace joined to this one
// by a veth pair on a /30 of its own (host side .1, namespace side .2). Processes started in it
// see only its interfaces, so a link set down is a real partition. Everything is created by the
// test and removed by `remove()` (deleting the namespace deletes its end of the pair; the host
// end is deleted explicitly). Needs root (CI and these machines have it): `netnsAvailable()`.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface SimHost {
  /** The namespace's name (for `ip netns exec`). */
  ns: string;
  /** The host-side interface (set it down to cut the link). */
  hostIf: string;
  /** This side's address on the link (what the namespace dials to reach the host). */
  hostAddress: string;
  /** The namespace's address (what the host dials to reach a server in it). */
  address: string;
  /** Cuts the link (both directions) or restores it. */
  link(up: boolean): void;
  /** argv that runs `command` inside the namespace. */
  exec(command: string[]): string[];
  remove(): void;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** True when this process may create namespaces and veth pairs (root with iproute2). */
export function netnsAvailable(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = `sp-probe-${randomBytes(3).toString('hex')}`;
  const r = spawnSync('ip', ['netns', 'add', probe], { stdio: 'ignore' });
  if (r.status !== 0) return false;
  spawnSync('ip', ['netns', 'del', probe], { stdio: 'ignore' });
  return true;
}

/** A /30 in 10.200.0.0–10.250.255.252 that no interface here uses yet. */
function freeSubnet(): [number, number, number] {
  const used = ip('-o', '-4', 'addr');
  for (let i = 0; i < 100; i++) {
    const b = 200 + Math.floor(Math.random() * 50);
    const c = Math.floor(Math.random() * 256);
    const d = Math.floor(Math.random() * 64) * 4;
    if (!used.includes(`10.${b}.${c}.${d + 1}/`) && !used.includes(`10.${b}.${c}.${d + 2}/`)) return [b, c, d];
  }
  throw new Error('no free 10.x /30 found for a test namespace');
}

/** Makes one simulated host. Interface names stay within Linux's 15 characters. */
export function simHost(label: string): SimHost {
  const tag = randomBytes(3).toString('hex');
  const ns = `sp-${label}-${tag}`;
  const hostIf = `vh${tag}${label.slice(0, 4)}`.slice(0, 15);
  const nsIf = `vn${tag}${label.slice(0, 4)}`.slice(0, 15);
  const [b, c, d] = freeSubnet();
  const hostAddress = `10.${b}.${c}.${d + 1}`;
  const address = `10.${b}.${c}.${d + 2}`;
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    spawnSync('ip', ['link', 'del', hostIf], { stdio: 'ignore' });
  };
  try {
    ip('netns', 'add', ns);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    ip('link', 'set', nsIf, 'netns', ns);
    ip('addr', 'add', `${hostAddress}/30`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${address}/30`, 'dev', nsIf);
    ip('netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'up');
    ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
  } catch (err) {
    remove();
    throw err;
  }
  return {
    ns,
    hostIf,
    hostAddress,
    address,
    link: (up) => void ip('link', 'set', hostIf, up ? 'up' : 'down'),
    exec: (command) => ['ip', 'netns', 'exec', ns, ...command],
    remove,
  };
}
