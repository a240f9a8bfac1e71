// What a source of process facts answers: /proc on Linux (src/proc/linux.ts), `ps` and `lsof`
// elsewhere (src/proc/ps.ts). src/proc.ts picks one per process; everything else asks it.

export type ProcFactsKind = 'proc' | 'ps';

/** Identity and liveness of a process: the cheapest read a source has. */
export interface ProcessIdentity {
  /** The state letter: R running, S sleeping, T stopped, Z zombie, … */
  state: string;
  /**
   * When it started, for equality and order only: pids are reused, so a process is "the same"
   * only while this still matches what was recorded. Units differ per source (/proc: clock ticks
   * since boot; ps: ms since the epoch, second resolution) and never meet: a value is only ever
   * compared with one the same source read.
   */
  startTime: number;
}

export interface ProcessFacts extends ProcessIdentity {
  pid: number;
  ppid: number;
  pgid: number;
  /** Session id. */
  sid: number;
  /** The uid it runs as when real, effective and saved agree; -1 when they differ (setuid); undefined if unknown. */
  uid: number | undefined;
}

export interface ProcessSource {
  readonly kind: ProcFactsKind;
  /** State and start time, or undefined when the process does not exist. */
  identity(pid: number): ProcessIdentity | undefined;
  /** Everything `ProcessFacts` holds, or undefined when the process does not exist. */
  facts(pid: number): ProcessFacts | undefined;
  /**
   * The facts of every process that `keep` accepts (it sees them before their uid is read), in
   * one pass over the process table: a scan costs one read of /proc or one `ps` call, not one
   * per process.
   */
  table(keep?: (f: Omit<ProcessFacts, 'uid'>) => boolean): ProcessFacts[];
  /** Resident set size, bytes; 0 when unknown. Called per worker per call: must be cheap. */
  rssBytes(pid: number): number;
  /** The command line (the ps source has it as one string only), or undefined. */
  commandLine(pid: number): string[] | undefined;
  /**
   * One variable of each process's environment as it was at exec; a pid is missing from the
   * answer when the variable is unset or unreadable (another user's process, gone).
   */
  environValues(pids: readonly number[], name: string): Map<number, string>;
  /**
   * Whether `pid` holds `path` open (the very inode). Only the process that opened a file (or a
   * child it passed the descriptor to) can, so this proves more than a pid and start time in a
   * file anyone with access could have copied. False whenever it cannot be told.
   */
  holdsOpen(pid: number, path: string): boolean;
}
