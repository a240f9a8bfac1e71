// One error type with a stable `code` for everything Snakepit reports. Tests and callers match on
// `code`, never on message text. The code travels unchanged through the worker protocol and the
// Agent API, so a client sees the same code an agent produced.

export const ERROR_CODES = [
  'TOOL_NOT_FOUND',
  'INVALID_ARGUMENTS',
  'PYTHON_EXCEPTION',
  'TIMEOUT',
  'QUEUE_FULL',
  'QUEUE_TIMEOUT',
  'WORKER_CRASHED',
  'WORKER_BUSY',
  'CANCELLED',
  'SESSION_WORKER_LOST',
  'DRAINING',
  'SLOW_CONSUMER',
  'UNAVAILABLE',
  'AGENT_UNAVAILABLE',
  'UNAUTHENTICATED',
  'TLS_ERROR',
  'PAYLOAD_TOO_LARGE',
  'CONFIG_INVALID',
  'PYTHON_NOT_FOUND',
  'WORKER_START_FAILED',
  'PROTOCOL_ERROR',
  'USAGE',
  'REGISTRY_INVALID',
  'REGISTRY_LOCKED',
  'REGISTRY_UNAVAILABLE',
  'REGISTRY_CONFLICT',
  'HOME_UNSAFE',
  'FILE_UNSAFE',
  'OPENSSL_NOT_FOUND',
  'HOME_LOCKED',
  'ALREADY_RUNNING',
  'FILE_ERROR',
  'TOOL_ERROR',
  'PROC_FACTS_UNAVAILABLE',
  'INTERNAL',
] as const;

/** A code of the catalog above: `SnakepitError.code` is always one, so a `switch` over it is checked. */
export type ErrorCode = (typeof ERROR_CODES)[number];

const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && KNOWN_CODES.has(code);
}

/**
 * The wire shape of an error (worker protocol, Agent API, `--json` output). `code` is any string
 * there: a tool may pick its own (`raise ToolError("NOT_FOUND", …)`), and a peer may send anything.
 */
export interface ErrorInfo {
  code: string;
  message: string;
  /** The Python exception class name, for `PYTHON_EXCEPTION`. */
  type?: string;
  /** The full Python traceback, for `PYTHON_EXCEPTION`. */
  traceback?: string;
  /** The agent the error came from (its id), when an agent produced it. */
  agent?: string;
  /**
   * Set by the Exchange client (never on the wire): the call was not written to a connected
   * stream, so it cannot have run, and a router may send it to another agent.
   */
  unsent?: boolean;
}

export class SnakepitError extends Error {
  readonly code: ErrorCode;
  /**
   * The code a tool chose (`raise ToolError("NOT_FOUND", …)`) when it is not one of ERROR_CODES;
   * `code` is then `TOOL_ERROR`. Kept apart so that `code` stays a closed union a caller can
   * switch over, while the tool's own code still reaches the caller (and `toJSON()`).
   */
  readonly toolCode: string | undefined;
  readonly type: string | undefined;
  readonly traceback: string | undefined;
  /** The id of the agent the error came from, when an agent produced it. */
  readonly agent: string | undefined;
  /** Set by a client (never on the wire): the request never reached the agent, so trying another address is safe. */
  readonly unsent: boolean | undefined;

  constructor(code: ErrorCode, message: string, extra: { type?: string; traceback?: string; agent?: string; toolCode?: string; cause?: unknown; unsent?: boolean } = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'SnakepitError';
    this.code = code;
    this.toolCode = extra.toolCode;
    this.type = extra.type;
    this.traceback = extra.traceback;
    this.agent = extra.agent;
    this.unsent = extra.unsent;
  }

  /** The error of a wire ErrorInfo: a code outside the catalog becomes `TOOL_ERROR` with it as `toolCode`. */
  static from(info: ErrorInfo): SnakepitError {
    const code = info.code;
    return new SnakepitError(isErrorCode(code) ? code : 'TOOL_ERROR', info.message, {
      ...(isErrorCode(code) ? {} : { toolCode: String(code) }),
      ...(info.type ? { type: info.type } : {}),
      ...(info.traceback ? { traceback: info.traceback } : {}),
      ...(info.agent ? { agent: info.agent } : {}),
    });
  }

  /** The wire shape: the code as it came (a tool's own code, not `TOOL_ERROR`), so `from(toJSON())` round-trips. */
  toJSON(): ErrorInfo {
    return {
      code: this.toolCode ?? this.code,
      message: this.message,
      ...(this.type ? { type: this.type } : {}),
      ...(this.traceback ? { traceback: this.traceback } : {}),
      ...(this.agent ? { agent: this.agent } : {}),
    };
  }
}

export function isSnakepitError(err: unknown): err is SnakepitError {
  return err instanceof SnakepitError;
}

/** Process exit codes of the CLI (a stable contract). */
export const EXIT = {
  ok: 0,
  /** The call failed: tool error, crash, timeout, … */
  failed: 1,
  /** Bad command line or bad input. */
  usage: 2,
  /** No agent reachable at the home or address. */
  noAgent: 3,
  /** Interrupted (Ctrl-C): 128 + SIGINT, as a shell reports it. */
  interrupted: 130,
} as const;

/** The user interrupted a command (Ctrl-C); its call was cancelled. Exits 130. */
export class InterruptedError extends SnakepitError {
  constructor(message: string) {
    super('CANCELLED', message);
  }
}

export function exitCodeFor(err: unknown): number {
  if (!(err instanceof SnakepitError)) return EXIT.failed;
  if (err instanceof InterruptedError) return EXIT.interrupted;
  if (err.code === 'USAGE' || err.code === 'CONFIG_INVALID' || err.code === 'FILE_ERROR') return EXIT.usage;
  if (err.code === 'AGENT_UNAVAILABLE') return EXIT.noAgent;
  return EXIT.failed;
}

/** Closest names to `name` by edit distance, for "did you mean" hints. */
export function nearestNames(name: string, candidates: readonly string[], max = 3): string[] {
  const scored = candidates
    .map((c) => ({ c, d: editDistance(name.toLowerCase(), c.toLowerCase()) }))
    .filter(({ c, d }) => d <= Math.max(2, Math.floor(c.length / 2)) || c.includes(name) || name.includes(c))
    .sort((a, b) => a.d - b.d || a.c.localeCompare(b.c));
  return scored.slice(0, max).map(({ c }) => c);
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
    }
    prev = cur;
  }
  return prev[b.length]!;
}
