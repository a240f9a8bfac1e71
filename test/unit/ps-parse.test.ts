// What `ps` prints, parsed for the ps source of process facts: synthetic outputs in the layouts
// of procps (Linux) and macOS ps, hostile lines dropped, session ids derived where ps has none,
// and which source a process picks.
import { describe, expect, it } from 'vitest';
import { deriveSessions, envValue, parseCommands, parseLstart, parsePsRow, parsePsRows, parseRss, type PsRow } from '../../src/proc/ps-parse.js';
import { chooseProcFacts } from '../../src/proc.js';

describe('parseLstart', () => {
  it('reads ctime’s layout (both procps and macOS in the C locale) as UTC ms since the epoch', () => {
    expect(parseLstart('Tue Dec  1 14:01:27 2026')).toBe(Date.UTC(2026, 11, 1, 14, 1, 27));
    expect(parseLstart('Mon Jan 12 03:04:05 2026')).toBe(Date.UTC(2026, 0, 12, 3, 4, 5));
    // macOS pads the column to 28 characters.
    expect(parseLstart('Sat Feb 28 23:59:59 2026    ')).toBe(Date.UTC(2026, 1, 28, 23, 59, 59));
  });

  it('refuses anything else: a locale’s names, impossible times, other layouts', () => {
    for (const bad of ['mar. déc.  1 14:01:27 2026', 'Tue Dec  1 24:00:00 2026', 'Tue Dec 32 10:00:00 2026', 'Tue Foo  1 10:00:00 2026', 'Xyz Dec  1 10:00:00 2026', '2026-12-01T14:01:27Z', '14:01', '']) {
      expect(parseLstart(bad), bad).toBeUndefined();
    }
  });
});

describe('parsePsRow', () => {
  it('reads a procps row (sess is the session id)', () => {
    expect(parsePsRow('  25860 25859 25857 17920 Ss+      0  1000     0  1404 Tue Dec  1 14:08:38 2026')).toEqual({
      pid: 25860,
      ppid: 25859,
      pgid: 25857,
      sess: 17920,
      stat: 'Ss+',
      uids: [0, 1000, 0],
      rssKb: 1404,
      startTime: Date.UTC(2026, 11, 1, 14, 8, 38),
    });
  });

  it('reads a macOS row (sess always 0, lstart padded) and a BSD one (sess a kernel pointer)', () => {
    const mac = parsePsRow('  612     1   612      0 Ss     501   501   501   5120 Tue Dec  1 09:00:01 2026    ');
    expect(mac).toMatchObject({ pid: 612, ppid: 1, pgid: 612, sess: 0, stat: 'Ss', uids: [501, 501, 501], rssKb: 5120 });
    expect(parsePsRow(' 3301  3300  3300 fffff80003d5e000 Z   1001  1001  1001     0 Sun Mar  1 00:00:00 2026')).toMatchObject({ pid: 3301, sess: NaN, stat: 'Z', rssKb: 0 });
  });

  it('drops a header, a short line, a non-numeric field, a bad start time', () => {
    for (const bad of ['  PID  PPID  PGID  SESS STAT  RUID   UID SVUID   RSS STARTED', '123 1 123', '12x 1 12 12 S 0 0 0 10 Tue Dec  1 14:08:38 2026', '12 1 12 12 S 0 0 0 10 yesterday', '12 1 12 12 5 0 0 0 10 Tue Dec  1 14:08:38 2026']) {
      expect(parsePsRow(bad), bad).toBeUndefined();
    }
  });

  it('parsePsRows keeps only the rows that parse', () => {
    const out = '    1     0     1     1 Ss       0     0     0 12000 Tue Dec  1 08:10:36 2026\ngarbage\n\n   77     1    77    77 S        0     0     0   900 Tue Dec  1 08:10:37 2026\n';
    expect(parsePsRows(out).map((r) => r.pid)).toEqual([1, 77]);
  });
});

describe('parseCommands and envValue', () => {
  it('keeps a command’s spaces and drops the padding', () => {
    const cmds = parseCommands('  901 python3 -m snakepit.worker --tools my tools.py   \n12345 sleep 30\nnot a row\n');
    expect(cmds).toEqual(new Map([[901, 'python3 -m snakepit.worker --tools my tools.py'], [12345, 'sleep 30']]));
  });

  it('reads a variable from what follows the command (procps `e`, macOS `-E`), values with spaces included', () => {
    const command = 'sleep 30';
    const shown = 'sleep 30 FOO=a b SNAKEPIT_RUN_ID=run-1 BAR=x';
    expect(envValue(command, shown, 'SNAKEPIT_RUN_ID')).toBe('run-1');
    expect(envValue(command, shown, 'FOO')).toBe('a b');
    expect(envValue(command, shown, 'BAR')).toBe('x');
    expect(envValue(command, shown, 'MISSING')).toBeUndefined();
    expect(envValue(command, 'sleep 30 EMPTY= NEXT=1', 'EMPTY')).toBe('');
  });

  it('never takes an argument for the environment, nor another process’s line', () => {
    const command = 'sh -c echo SNAKEPIT_RUN_ID=forged';
    expect(envValue(command, `${command} PATH=/bin`, 'SNAKEPIT_RUN_ID')).toBeUndefined();
    expect(envValue(command, `${command} SNAKEPIT_RUN_ID=real`, 'SNAKEPIT_RUN_ID')).toBe('real');
    expect(envValue(command, command, 'SNAKEPIT_RUN_ID')).toBeUndefined(); // environment not shown (another user's)
    expect(envValue('sleep 30', 'sleep 300 SNAKEPIT_RUN_ID=x', 'SNAKEPIT_RUN_ID')).toBeUndefined(); // not the same command
  });

  it('parseRss reads pid → KiB', () => {
    expect(parseRss('    1 12000\n  901  80404\nbad line\n')).toEqual(new Map([[1, 12000], [901, 80404]]));
  });
});

describe('deriveSessions (macOS: ps shows no session ids)', () => {
  const row = (pid: number, ppid: number, pgid: number, stat: string): PsRow => ({ pid, ppid, pgid, sess: 0, stat, uids: [501, 501, 501], rssKb: 1, startTime: 0 });
  const rows = [
    row(1, 0, 1, 'Ss'), // launchd
    row(400, 1, 400, 'Ss'), // a login shell
    row(500, 400, 500, 'S+'), // a job of that shell (snakepit doctor cleanup)
    row(501, 400, 500, 'S+'), // the pipeline's second command
    row(700, 1, 700, 'Ss'), // the agent daemon (spawned detached: its own session)
    row(600, 700, 600, 'Ss'), // a worker (its own session)
    row(601, 600, 600, 'S'), // a tool's child
    row(602, 1, 600, 'S'), // a tool's orphan whose worker lives
    row(802, 1, 800, 'S'), // an orphan of a dead worker 800
    row(900, 501, 900, 'S'), // a group leader forked by the pipeline: the shell's session
  ];
  const sids = deriveSessions(rows);

  it('is exact for leaders, for members of a live group leader, and for a job of a shell', () => {
    expect([1, 400, 700, 600].map((p) => sids.get(p))).toEqual([1, 400, 700, 600]);
    expect([601, 602].map((p) => sids.get(p))).toEqual([600, 600]);
    expect([500, 501, 900].map((p) => sids.get(p))).toEqual([400, 400, 400]);
  });

  it('gives an orphan of a dead group leader that group’s id (a dead worker’s session)', () => {
    expect(sids.get(802)).toBe(800);
  });

  it('survives a cycle in hostile data', () => {
    expect(deriveSessions([row(10, 11, 10, 'S'), row(11, 10, 11, 'S')]).size).toBe(2);
  });
});

describe('chooseProcFacts', () => {
  const mounted = (): boolean => true;
  const none = (): boolean => false;
  it('uses /proc on Linux, ps elsewhere, and what SNAKEPIT_PROC_FACTS forces', () => {
    expect(chooseProcFacts({}, 'linux', mounted)).toBe('proc');
    expect(chooseProcFacts({}, 'linux', none)).toBe('ps');
    expect(chooseProcFacts({}, 'darwin', none)).toBe('ps');
    expect(chooseProcFacts({}, 'freebsd', none)).toBe('ps');
    expect(chooseProcFacts({ SNAKEPIT_PROC_FACTS: 'ps' }, 'linux', mounted)).toBe('ps');
    expect(chooseProcFacts({ SNAKEPIT_PROC_FACTS: 'proc' }, 'linux', mounted)).toBe('proc');
    expect(chooseProcFacts({ SNAKEPIT_PROC_FACTS: 'auto' }, 'darwin', none)).toBe('ps');
  });

  it('refuses an unknown value, and /proc where there is none, naming the fix', () => {
    expect(() => chooseProcFacts({ SNAKEPIT_PROC_FACTS: 'lsof' }, 'linux', mounted)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('fix:') }));
    expect(() => chooseProcFacts({ SNAKEPIT_PROC_FACTS: 'proc' }, 'darwin', none)).toThrow(expect.objectContaining({ code: 'PROC_FACTS_UNAVAILABLE' }));
  });
});
