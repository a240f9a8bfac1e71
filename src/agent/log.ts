// The agent's log sink. The daemon points it at its log file (JSON lines, src/daemon/log-file.ts);
// an embedded agent logs nowhere unless asked. A line has a level, a source (agent, daemon, a pool
// or a worker id) and a message; worker output and tools' log records add structured fields.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * Structured fields of worker output and tools' log records. `source` and `message` keep their
 * readable forms for simple loggers ("default-0 stdout", "default-0 call 12", "logger: text");
 * structured sinks use these fields instead.
 */
export interface LogFields {
  /** The worker the line came from (the bare id, e.g. "default-0"). */
  worker?: string;
  /** "stdout" / "stderr": a line the worker printed; "log": a record of a tool's `ctx.logger`. */
  stream?: 'stdout' | 'stderr' | 'log';
  /** The call a log record belongs to (0 or absent: none). */
  callId?: number;
  /** The Python logger's name. */
  logger?: string;
  /** The message alone (without the "logger: " prefix of `message`). */
  text?: string;
}

export interface AgentLogger {
  log(level: LogLevel, source: string, message: string, fields?: LogFields): void;
}

export const silentLogger: AgentLogger = { log() {} };

/** Text lines: ISO timestamp, level, [source] and message. */
export function streamLogger(write: (line: string) => void): AgentLogger {
  return {
    log(level, source, message) {
      write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${source}] ${message}\n`);
    },
  };
}

/** Python's level names (and anything else a worker sends) mapped onto ours. */
export function logLevel(name: string): LogLevel {
  switch (name) {
    case 'debug':
    case 'info':
    case 'warn':
    case 'error':
      return name;
    case 'warning':
      return 'warn';
    case 'critical':
    case 'fatal':
      return 'error';
    default:
      return 'info';
  }
}

/** One record of the daemon's JSON log file (one per line). */
export interface LogRecord {
  time: string;
  level: string;
  pid?: number;
  /** "agent", "daemon", a pool name, or a worker id such as "default-0". */
  src: string;
  stream?: 'stdout' | 'stderr' | 'log';
  callId?: number;
  logger?: string;
  msg: string;
}

/** A record as one human line: `HH:MM:SS.mmm LEVEL [src stream|call N] logger: msg` (local time). */
export function formatRecord(r: LogRecord): string {
  const t = new Date(r.time);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  const time = Number.isNaN(t.getTime()) ? String(r.time) : `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}.${pad(t.getMilliseconds(), 3)}`;
  const where = r.stream === 'stdout' || r.stream === 'stderr' ? ` ${r.stream}` : r.callId ? ` call ${r.callId}` : '';
  return `${time} ${String(r.level).toUpperCase().padEnd(5)} [${r.src}${where}] ${r.logger ? `${r.logger}: ` : ''}${r.msg}`;
}
