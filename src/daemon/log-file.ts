// The daemon's log file: JSON lines written by pino, rotated by size (one `.1` generation kept).
// Synchronous appends: log volume is modest and a line is never lost when the process dies right
// after writing it. `snakepit logs` reads these files (src/cli/commands/logs.ts). The daemon's own
// stderr (crash traces) does not point here, since a rotation would leave it on a deleted file: it
// goes to logs/crash.log, which is never rotated under a running daemon (src/cli/commands/up.ts).
import { closeSync, constants, existsSync, openSync, renameSync, statSync, writeSync } from 'node:fs';

/** Append, create with 0600, never through a symlink. */
const APPEND = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;
import { pino } from 'pino';
import { formatRecord, type AgentLogger, type LogRecord } from '../agent/log.js';

export class LogFile {
  private fd: number;
  private bytes: number;

  constructor(
    private readonly path: string,
    private readonly maxBytes: number,
  ) {
    this.bytes = existsSync(path) ? statSync(path).size : 0;
    if (this.bytes >= maxBytes) this.rotate();
    this.fd = openSync(path, APPEND, 0o600);
  }

  write(line: string): void {
    const buf = Buffer.from(line);
    if (this.bytes + buf.length > this.maxBytes && this.bytes > 0) {
      closeSync(this.fd);
      this.rotate();
      this.fd = openSync(this.path, APPEND, 0o600);
    }
    writeSync(this.fd, buf);
    this.bytes += buf.length;
  }

  close(): void {
    closeSync(this.fd);
  }

  private rotate(): void {
    renameSync(this.path, `${this.path}.1`);
    this.bytes = 0;
  }
}

/**
 * An AgentLogger writing one JSON object per line to `file`: `level` (label), `time` (ISO), `pid`
 * (the agent's), `src` (agent, daemon, a pool or a worker id), for worker output `stream`
 * ("stdout"/"stderr"), for tools' log records `stream: "log"`, `callId` and `logger`, then `msg`.
 * `echo` receives each record as a human line (`up --foreground` prints them on stderr).
 */
export function jsonFileLogger(file: LogFile, echo?: (line: string) => void): AgentLogger {
  const log = pino(
    {
      level: 'debug',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    {
      write(line: string) {
        file.write(line);
        if (echo) echo(`${formatRecord(JSON.parse(line) as LogRecord)}\n`);
      },
    },
  );
  return {
    log(level, source, message, fields) {
      if (!fields) {
        log[level]({ src: source }, message);
        return;
      }
      const record: Record<string, unknown> = { src: fields.worker ?? source };
      if (fields.stream) record.stream = fields.stream;
      if (fields.callId) record.callId = fields.callId;
      if (fields.logger) record.logger = fields.logger;
      log[level](record, fields.text ?? message);
    },
  };
}
