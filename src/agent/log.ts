// The agent's log sink. The daemon points it at its log file; an embedded agent logs nowhere
// unless asked. Lines carry an ISO timestamp, a level and a source (agent or a worker id).
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface AgentLogger {
  log(level: LogLevel, source: string, message: string): void;
}

export const silentLogger: AgentLogger = { log() {} };

export function streamLogger(write: (line: string) => void): AgentLogger {
  return {
    log(level, source, message) {
      write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${source}] ${message}\n`);
    },
  };
}
