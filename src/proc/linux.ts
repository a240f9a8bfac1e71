// Process facts from Linux's /proc: plain file reads, no subprocess. The start time is
// /proc/PID/stat field 22 (clock ticks since boot), which no clock change can move.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { ProcessFacts, ProcessIdentity, ProcessSource } from './source.js';

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces and parentheses: the fields after it start after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function status(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
}

/** The uid from /proc/PID/status "Uid:" (real, effective, saved): -1 when they differ. */
function uidOf(pid: number): number | undefined {
  const m = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status(pid) ?? '');
  if (!m) return undefined;
  return m[1] === m[2] && m[2] === m[3] ? Number(m[1]) : -1;
}

function fromStat(pid: number, f: string[]): Omit<ProcessFacts, 'uid'> {
  return { pid, state: f[0]!, ppid: Number(f[1]), pgid: Number(f[2]), sid: Number(f[3]), startTime: Number(f[19]) };
}

export function linuxSource(): ProcessSource {
  return {
    kind: 'proc',
    identity(pid: number): ProcessIdentity | undefined {
      const f = statFields(pid);
      return f ? { state: f[0]!, startTime: Number(f[19]) } : undefined;
    },
    facts(pid: number): ProcessFacts | undefined {
      const f = statFields(pid);
      return f ? { ...fromStat(pid, f), uid: uidOf(pid) } : undefined;
    },
    table(keep = () => true): ProcessFacts[] {
      let names: string[];
      try {
        names = readdirSync('/proc');
      } catch {
        return [];
      }
      const out: ProcessFacts[] = [];
      for (const name of names) {
        if (!/^\d+$/.test(name)) continue;
        const pid = Number(name);
        const f = statFields(pid);
        if (!f) continue; // gone meanwhile
        const core = fromStat(pid, f);
        if (keep(core)) out.push({ ...core, uid: uidOf(pid) });
      }
      return out;
    },
    rssBytes(pid: number): number {
      const m = /VmRSS:\s+(\d+)\s+kB/.exec(status(pid) ?? '');
      return m ? Number(m[1]) * 1024 : 0;
    },
    commandLine(pid: number): string[] | undefined {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s.length > 0);
      } catch {
        return undefined;
      }
    },
    environValues(pids: readonly number[], name: string): Map<number, string> {
      const prefix = `${name}=`;
      const out = new Map<number, string>();
      for (const pid of pids) {
        let raw: string;
        try {
          raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
        } catch {
          continue; // another user's process, or gone
        }
        const entry = raw.split('\0').find((e) => e.startsWith(prefix));
        if (entry !== undefined) out.set(pid, entry.slice(prefix.length));
      }
      return out;
    },
    holdsOpen(pid: number, path: string): boolean {
      let target: { dev: number; ino: number };
      try {
        target = statSync(path);
      } catch {
        return false;
      }
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        return false;
      }
      for (const fd of fds) {
        try {
          const st = statSync(`/proc/${pid}/fd/${fd}`);
          if (st.ino === target.ino && st.dev === target.dev) return true;
        } catch {
          /* closed meanwhile */
        }
      }
      return false;
    },
  };
}
