// The one place that turns command results into text or `--json`, and errors into exit codes.
// Commands return data and never call process.exit.
import { EXIT, SnakepitError, exitCodeFor } from '../errors.js';
import { fileSystemError } from '../files.js';

export interface CommandResult {
  /** The `--json` document (printed as one line). */
  json: unknown;
  /** Human text for stdout (omitted when empty). */
  text: string;
  /** Exit code (default 0). */
  exitCode?: number;
}

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  color: boolean;
}

export const processIo: Io = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  color: !process.env.NO_COLOR && process.stderr.isTTY === true,
};

export function emit(result: CommandResult, json: boolean, io: Io): number {
  if (json) io.stdout(`${JSON.stringify(result.json)}\n`);
  else if (result.text) io.stdout(result.text.endsWith('\n') ? result.text : `${result.text}\n`);
  return result.exitCode ?? EXIT.ok;
}

/** Bytes cannot be JSON: in `--json` output they appear as {"$base64": "..."}. */
export function jsonSafe(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = jsonSafe(v);
    return out;
  }
  return value;
}

export function errorJson(err: unknown): { code: string; message: string; type?: string; traceback?: string } {
  err = fileSystemError(err) ?? err;
  if (err instanceof SnakepitError) return err.toJSON();
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

export function reportError(err: unknown, json: boolean, io: Io): number {
  // A file-system error (a home under a file, a read-only directory…) names the path and the fix
  // instead of reaching the user as a Node stack trace.
  err = fileSystemError(err) ?? err;
  if (json) {
    io.stdout(`${JSON.stringify({ ok: false, error: errorJson(err) })}\n`);
  } else {
    const red = (s: string): string => (io.color ? `\u001b[31m${s}\u001b[39m` : s);
    if (err instanceof SnakepitError) {
      const head = err.type ? `${err.type}: ${err.message}` : err.message;
      // A tool's own code (ToolError) is what its author wrote, so that is what is shown.
      io.stderr(`${red(`error [${err.toolCode ?? err.code}]`)} ${head}\n`);
      if (err.traceback) io.stderr(`${err.traceback.trimEnd()}\n`);
    } else {
      io.stderr(`${red('error')} ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
  }
  return exitCodeFor(err);
}

export function usage(message: string): SnakepitError {
  return new SnakepitError('USAGE', message);
}
