// Parsing what `ps` prints, for the ps source of process facts (src/proc/ps.ts). Pure: the
// synthetic outputs of procps (Linux) and of BSD / macOS ps are unit-tested against these.
// Every line is hostile input: a row that does not parse is dropped, never half-read.

/**
 * The columns of one `ps -o` row, in this order. Keywords both procps and BSD / macOS ps accept;
 * `lstart` is last because it holds spaces. `sess` is the session id on procps only: BSD ps prints
 * a kernel pointer there, and macOS always 0 (see `deriveSessions`).
 */
export const PS_COLUMNS = 'pid=,ppid=,pgid=,sess=,stat=,ruid=,uid=,svuid=,rss=,lstart=';

export interface PsRow {
  pid: number;
  ppid: number;
  pgid: number;
  /** The `sess` column as a number, NaN when it is not a decimal (a BSD kernel pointer). */
  sess: number;
  /** The `stat` column: a state letter, then flags (`s`: session leader, `+`: foreground, …). */
  stat: string;
  /** Real, effective and saved uid. */
  uids: [number, number, number];
  rssKb: number;
  /** `lstart` as ms since the epoch (second resolution), read as UTC: ps runs with TZ=UTC. */
  startTime: number;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const LSTART = /^([A-Z][a-z]{2}) ([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/**
 * `lstart` ("Tue Dec  1 14:01:27 2026": ctime's layout, which both procps and macOS print in the
 * C locale) as ms since the epoch, taking it as UTC; undefined when it is not that layout.
 */
export function parseLstart(text: string): number | undefined {
  const m = LSTART.exec(text.trim());
  if (!m || !DAYS.includes(m[1]!)) return undefined;
  const month = MONTHS.indexOf(m[2]!);
  const [day, h, min, s, year] = [m[3], m[4], m[5], m[6], m[7]].map(Number) as [number, number, number, number, number];
  if (month < 0 || day < 1 || day > 31 || h > 23 || min > 59 || s > 60) return undefined;
  return Date.UTC(year, month, day, h, min, s);
}

const INT = /^\d+$/;

/** One row of `ps -o PS_COLUMNS`, or undefined. */
export function parsePsRow(line: string): PsRow | undefined {
  const t = line.trim().split(/\s+/);
  if (t.length < 10) return undefined;
  const [pid, ppid, pgid, sess, stat, ruid, euid, suid, rss] = t as [string, string, string, string, string, string, string, string, string];
  if (![pid, ppid, pgid, ruid, euid, suid, rss].every((v) => INT.test(v)) || !/^[A-Za-z]/.test(stat)) return undefined;
  const startTime = parseLstart(t.slice(9).join(' '));
  if (startTime === undefined) return undefined;
  return {
    pid: Number(pid),
    ppid: Number(ppid),
    pgid: Number(pgid),
    sess: INT.test(sess) ? Number(sess) : NaN,
    stat,
    uids: [Number(ruid), Number(euid), Number(suid)],
    rssKb: Number(rss),
    startTime,
  };
}

/** Every row of `ps -o PS_COLUMNS` output that parses. */
export function parsePsRows(out: string): PsRow[] {
  const rows: PsRow[] = [];
  for (const line of out.split('\n')) {
    const r = parsePsRow(line);
    if (r) rows.push(r);
  }
  return rows;
}

/**
 * `ps -o pid=,command=` output as pid → command. The command is everything after the pid and one
 * space (ps separates columns by one space and pads the pid on the left).
 */
export function parseCommands(out: string): Map<number, string> {
  const commands = new Map<number, string>();
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+) (.*)$/.exec(line);
    if (m) commands.set(Number(m[1]), m[2]!.trimEnd());
  }
  return commands;
}

const ENTRY = /^[A-Za-z_][A-Za-z0-9_]*=/;

/**
 * One variable from what ps prints with the environment shown (`withEnv`: the command, a space,
 * then NAME=value entries separated by spaces), given the same process's command without it:
 * the entries are what follows that command. A word that does not start an entry continues the
 * previous value (values may hold spaces). Undefined when the variable is not there, or when
 * `withEnv` does not start with `command` (not the same process, or no environment shown).
 */
export function envValue(command: string, withEnv: string, name: string): string | undefined {
  if (withEnv.length <= command.length || !withEnv.startsWith(`${command} `)) return undefined;
  let found: string | undefined;
  for (const word of withEnv.slice(command.length + 1).split(' ')) {
    if (ENTRY.test(word)) {
      if (found !== undefined) break; // the next entry ends the value
      if (word.startsWith(`${name}=`)) found = word.slice(name.length + 1);
    } else if (found !== undefined) {
      found += ` ${word}`;
    }
  }
  return found;
}

/**
 * Session ids where ps cannot show them (macOS: `sess` is always 0; the BSDs: a kernel pointer),
 * derived from the process table:
 *  - a session leader (`s` in `stat`): its own pid;
 *  - a member of a group whose leader lives: the leader's session (exact: a group never changes
 *    session, and its id cannot be reused while the group exists);
 *  - a group leader that leads no session: its parent's session (it called setpgid and stayed in
 *    the session it was born in; wrong only if it was re-parented, or the parent called setsid
 *    after forking it);
 *  - a member of a group whose leader is gone: the group id, which is its session when that
 *    leader led a session as well (as a worker does; its orphans are the ones that matter here).
 * Only the ownership rule's "never our own session" uses sessions; a wrong guess only affects
 * that extra refusal.
 */
export function deriveSessions(rows: readonly PsRow[]): Map<number, number> {
  const byPid = new Map(rows.map((r) => [r.pid, r]));
  const sids = new Map<number, number>();
  const sidOf = (r: PsRow, depth: number): number => {
    const known = sids.get(r.pid);
    if (known !== undefined) return known;
    let sid = r.pgid;
    if (r.stat.slice(1).includes('s')) sid = r.pid;
    else if (depth < 64) {
      const next = r.pgid !== r.pid ? byPid.get(r.pgid) : r.ppid > 1 ? byPid.get(r.ppid) : undefined;
      if (next && next !== r) sid = sidOf(next, depth + 1);
    }
    sids.set(r.pid, sid);
    return sid;
  };
  for (const r of rows) sidOf(r, 0);
  return sids;
}

/** `ps -o pid=,rss=` output as pid → resident set size, KiB. */
export function parseRss(out: string): Map<number, number> {
  const rss = new Map<number, number>();
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(line);
    if (m) rss.set(Number(m[1]), Number(m[2]));
  }
  return rss;
}
