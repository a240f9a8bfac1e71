// The fast path of `snakepit exec`: the commonest command skips commander (and everything else
// the full CLI loads) and parses its few flags here. Anything it does not recognise (--help, an
// unknown flag) returns undefined and the full CLI handles it, so behaviour and messages match.
import { parseDuration } from './args.js';
import { DEFAULTS } from '../defaults.js';
import type { ExecOptions } from './commands/exec.js';
import { emit, processIo, reportError } from './output.js';

const VALUE_FLAGS = {
  '--session': 'session',
  '--timeout': 'timeoutMs',
  '--pool': 'pool',
  '--address': 'address',
  '--home': 'home',
  '--require': 'require',
  '--out': 'out',
  '--token-file': 'tokenFile',
  '--tls-ca': 'tlsCa',
  '--tls-cert': 'tlsCert',
  '--tls-key': 'tlsKey',
  '--tls-servername': 'tlsServername',
} as const;
const BOOL_FLAGS = { '--stream': 'stream', '--idempotent': 'idempotent', '--json': 'json', '--insecure-transport': 'insecureTransport' } as const;

export interface ParsedExec {
  tool: string;
  args: string[];
  options: ExecOptions;
}

/** Parses `exec` arguments (after the word exec); undefined when the full CLI should handle them. */
export function parseExecArgv(argv: readonly string[]): ParsedExec | undefined {
  const options: ExecOptions = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (name in BOOL_FLAGS && eq < 0) {
      (options as Record<string, unknown>)[BOOL_FLAGS[name as keyof typeof BOOL_FLAGS]] = true;
      continue;
    }
    if (name in VALUE_FLAGS) {
      const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (value === undefined) return undefined;
      const key = VALUE_FLAGS[name as keyof typeof VALUE_FLAGS];
      if (key === 'require') {
        options.require = [...(options.require ?? []), value];
        continue;
      }
      (options as Record<string, unknown>)[key] = key === 'timeoutMs' ? parseDuration(value, '--timeout', DEFAULTS.maxTimeoutMs) : value;
      continue;
    }
    return undefined;
  }
  if (positional.length === 0) return undefined;
  return { tool: positional[0]!, args: positional.slice(1), options };
}

/** Runs `snakepit exec` without the full CLI; undefined when it cannot (caller falls back). */
export async function fastExec(argv: readonly string[]): Promise<number | undefined> {
  let parsed: ParsedExec | undefined;
  try {
    parsed = parseExecArgv(argv);
  } catch (err) {
    return reportError(err, argv.includes('--json'), processIo);
  }
  if (!parsed) return undefined;
  const { execCommand } = await import('./commands/exec.js');
  try {
    return emit(await execCommand(parsed.tool, parsed.args, parsed.options, processIo), !!parsed.options.json, processIo);
  } catch (err) {
    return reportError(err, !!parsed.options.json, processIo);
  }
}
