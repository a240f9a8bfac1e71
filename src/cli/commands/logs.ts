// `snakepit logs [--follow] [--worker ID] [--lines N] [--json]`: the agent's and its workers' log
// (what tools print and log), read from <home>/logs/agent.log.1 then agent.log, so it works with
// or without a running agent. Records are JSON lines (src/daemon/log-file.ts); a line that is not
// JSON (e.g. a crash trace the daemon's stderr left in the file) is shown as it is. `--follow`
// polls the file like `tail -F`: it keeps reading the file it has open until it is renamed away by
// a rotation, then reopens the new one from its start. Ctrl-C ends it with exit 0.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { formatRecord, type LogRecord } from '../../agent/log.js';
import { homePaths, resolveHome } from '../../daemon/home.js';
import { DEFAULTS } from '../../defaults.js';
import { exitCodeFor, nearestNames } from '../../errors.js';
import { errorJson, usage, type CommandResult, type Io } from '../output.js';

export interface LogsOptions {
  home?: string;
  follow?: boolean;
  worker?: string;
  lines?: number;
  json?: boolean;
}

/** How often `--follow` looks for new lines, ms (not a setting: a file poll is cheap). */
const FOLLOW_POLL_MS = 100;

/**
 * Prints lines itself (JSON lines with `--json`, so it is registered with `run(false, …)`); with
 * `--json`, a failure is printed as the usual `{"ok": false, "error": …}` line here.
 */
export async function logsCommand(opts: LogsOptions, io: Io): Promise<CommandResult> {
  try {
    return await logs(opts, io);
  } catch (err) {
    if (!opts.json) throw err;
    io.stdout(`${JSON.stringify({ ok: false, error: errorJson(err) })}\n`);
    return { json: null, text: '', exitCode: exitCodeFor(err) };
  }
}

async function logs(opts: LogsOptions, io: Io): Promise<CommandResult> {
  const home = resolveHome(opts.home);
  const file = homePaths(home).logFile;
  const previous = `${file}.1`;
  const show = (line: string): string | undefined => render(line, opts);

  if (!existsSync(file) && !existsSync(previous)) {
    io.stderr(`no logs yet for ${home}${opts.follow ? ' (waiting for them; Ctrl-C stops)' : ''}\n`);
    if (!opts.follow) return { json: null, text: '', exitCode: 0 };
  }
  // Read the current file through the descriptor --follow goes on with (no rotation in between).
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
  } catch {
    fd = undefined;
  }
  const current = fd === undefined ? Buffer.alloc(0) : readFileSync(fd);
  // Complete lines only: a line still being written is printed by --follow once it is complete.
  const complete = current.lastIndexOf(10) + 1;
  const older = readSafe(previous).toString('utf8');
  const text = `${older}${older && !older.endsWith('\n') ? '\n' : ''}${current.subarray(0, complete).toString('utf8')}`;
  const count = opts.lines ?? DEFAULTS.logLines;
  const raw = text.split('\n').filter(Boolean);
  if (opts.worker !== undefined) checkWorker(opts.worker, raw, home);
  // Without a filter only the last lines need parsing.
  const shown = (opts.worker === undefined ? raw.slice(-count) : raw).map(show).filter((l): l is string => l !== undefined);
  const last = shown.slice(-count);
  if (last.length) io.stdout(`${last.join('\n')}\n`);
  if (!opts.follow) {
    if (fd !== undefined) closeSync(fd);
    return { json: null, text: '', exitCode: 0 };
  }
  await follow(file, fd, complete, (line) => {
    const out = show(line);
    if (out !== undefined) io.stdout(`${out}\n`);
  });
  return { json: null, text: '', exitCode: 0 };
}

/** One raw line as printed: formatted text or the JSON line itself; undefined when filtered out. */
function render(line: string, opts: LogsOptions): string | undefined {
  if (line === '') return undefined;
  const record = parseRecord(line);
  if (opts.worker !== undefined && record?.src !== opts.worker) return undefined;
  if (!record) return opts.json ? JSON.stringify({ raw: true, msg: line }) : line;
  return opts.json ? line : formatRecord(record);
}

/** A --worker the log has never heard of is a mistake (a typo, another home): say which sources it has. */
function checkWorker(worker: string, lines: readonly string[], home: string): void {
  const sources = new Set<string>(['agent', 'daemon']);
  for (const line of lines) {
    const src = parseRecord(line)?.src;
    if (src !== undefined) sources.add(src);
  }
  if (sources.has(worker)) return;
  const workers = [...sources].filter((s) => s !== 'agent' && s !== 'daemon').sort((x, y) => x.localeCompare(y, undefined, { numeric: true }));
  const near = nearestNames(worker, [...sources]);
  throw usage(
    `no worker '${worker}' in the log of ${home}${near.length ? ` (did you mean ${near.map((n) => `'${n}'`).join(' or ')}?)` : ''}; ` +
      (workers.length ? `its workers: ${workers.join(', ')}` : 'it has no worker lines yet') +
      `, and 'agent' or 'daemon' for the agent's own lines`,
  );
}

function parseRecord(line: string): LogRecord | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const r = JSON.parse(line) as Partial<LogRecord> | null;
    return r && typeof r === 'object' && typeof r.msg === 'string' && typeof r.src === 'string' ? (r as LogRecord) : undefined;
  } catch {
    return undefined;
  }
}

function readSafe(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch {
    return Buffer.alloc(0);
  }
}

/**
 * Calls `onLine` for every complete line appended to `path` (open as `fd`, if it existed) after
 * byte `offset`, across rotations, until SIGINT / SIGTERM (or stdout closes).
 */
function follow(path: string, initial: number | undefined, offset: number, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve) => {
    let fd = initial;
    let ino = fd === undefined ? 0 : fstatSync(fd).ino;
    let pos = offset;
    let partial = Buffer.alloc(0);
    const buf = Buffer.alloc(64 * 1024);

    const open = (from: number): void => {
      try {
        fd = openSync(path, 'r');
        ino = fstatSync(fd).ino;
        pos = from;
        partial = Buffer.alloc(0);
      } catch {
        fd = undefined;
      }
    };
    const drain = (): void => {
      if (fd === undefined) return;
      if (fstatSync(fd).size < pos) pos = 0; // truncated in place: start over
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, pos);
        if (n <= 0) break;
        pos += n;
        let chunk = Buffer.concat([partial, buf.subarray(0, n)]);
        for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10)) {
          onLine(chunk.subarray(0, nl).toString('utf8'));
          chunk = chunk.subarray(nl + 1);
        }
        partial = Buffer.from(chunk);
      }
    };
    const tick = (): void => {
      try {
        if (fd === undefined) {
          if (existsSync(path)) open(0);
        } else {
          drain();
          // Rotated (renamed away, a new file in its place): finish the old one, then switch.
          let current: number | undefined;
          try {
            current = statSync(path).ino;
          } catch {
            current = undefined;
          }
          if (current !== undefined && current !== ino) {
            drain();
            if (partial.length) onLine(partial.toString('utf8'));
            closeSync(fd);
            open(0);
          }
        }
        drain();
      } catch {
        /* a file vanished between two calls: the next tick sees the new state */
      }
    };
    const stop = (): void => {
      clearInterval(timer);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.stdout.off('error', stop);
      if (fd !== undefined) closeSync(fd);
      resolve();
    };
    const timer = setInterval(tick, FOLLOW_POLL_MS);
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    process.stdout.on('error', stop);
  });
}
