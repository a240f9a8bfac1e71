// `snakepit exec TOOL [key=value ...] | [JSON]`: one call through the daemon. Ctrl-C cancels the
// call on its worker. Loads only the Agent API client (never the pool engine) to start fast.
import { writeFileSync } from 'node:fs';
import { connect } from '../../api/client.js';
import type { Io, CommandResult } from '../output.js';
import { jsonSafe } from '../output.js';
import { parseLabels, parseToolArgs } from '../args.js';
import { warnOnVersionMismatch } from '../version-check.js';
import { isLocal, targetOptions, type TargetFlags } from '../target.js';
import { InterruptedError } from '../../errors.js';

export interface ExecOptions extends TargetFlags {
  session?: string;
  timeoutMs?: number;
  stream?: boolean;
  idempotent?: boolean;
  pool?: string;
  /** `key=value` labels an agent must carry (through a router). */
  require?: string[];
  json?: boolean;
  /** Write the result to this file (bytes raw, anything else as printed) instead of stdout. */
  out?: string;
}

function render(value: unknown): string {
  if (typeof value === 'string') return value;
  return JSON.stringify(jsonSafe(value), null, 2);
}

export async function execCommand(tool: string, rawArgs: string[], opts: ExecOptions, io: Io): Promise<CommandResult> {
  const args = parseToolArgs(rawArgs);
  const target = targetOptions(opts);
  if (isLocal(target)) warnOnVersionMismatch(opts.home, io.stderr);
  const client = connect(target);
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.once('SIGINT', onSigint);
  const callOpts = {
    signal: abort.signal,
    ...(opts.session ? { session: opts.session } : {}),
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.idempotent ? { idempotent: true } : {}),
    ...(opts.pool ? { pool: opts.pool } : {}),
    ...(opts.require?.length ? { require: parseLabels(opts.require, '--require') } : {}),
  };
  try {
    if (opts.stream) {
      let chunks = 0;
      for await (const chunk of client.stream(tool, args, callOpts)) {
        chunks++;
        if (opts.json) io.stdout(`${JSON.stringify({ chunk: jsonSafe(chunk) })}\n`);
        else if (chunk instanceof Uint8Array) io.stdout(Buffer.from(chunk).toString('utf8'));
        else io.stdout(`${typeof chunk === 'string' ? chunk : JSON.stringify(jsonSafe(chunk))}\n`);
      }
      return { json: { ok: true, chunks }, text: '' };
    }
    const result = await client.execute(tool, args, callOpts);
    if (opts.out !== undefined) {
      const data = result instanceof Uint8Array ? result : `${opts.json ? JSON.stringify(jsonSafe(result)) : render(result)}\n`;
      writeFileSync(opts.out, data);
      const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
      return { json: { ok: true, out: opts.out, bytes }, text: '' };
    }
    if (!opts.json && result instanceof Uint8Array) {
      // Raw bytes go to stdout unchanged, so `exec … > file` works.
      io.stdout(Buffer.from(result) as unknown as string);
      return { json: null, text: '' };
    }
    return { json: { ok: true, result: jsonSafe(result) }, text: render(result) };
  } catch (err) {
    // Ctrl-C: the call was cancelled on its worker; the command exits 130, as a shell's would.
    if (abort.signal.aborted) throw new InterruptedError(`interrupted: the call to '${tool}' was cancelled on its worker`);
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
    client.close();
  }
}
