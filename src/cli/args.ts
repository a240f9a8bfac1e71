// Parsing of `exec` arguments, HTTPie's convention: `k=v` is text, converted to the parameter's
// declared type by the worker (which knows the signature: `a=1` is 1 for an `int`, "1" for a
// `str`); `k:=JSON` is raw JSON; `k@FILE` is a file's content (bytes for a `bytes` parameter,
// text otherwise) and `k@-` reads it from stdin; a single JSON object is all the arguments, and
// `-` alone reads that object from stdin. Pure but for reading files, so it is tested as a table.
import { readFileSync } from 'node:fs';
import { usage } from './output.js';

/** How a command-line value travels (python/snakepit/typespec.py converts it). */
export const CLI_TEXT = '$cli';
export const CLI_BYTES = '$cli_bytes';

const ITEM = /^([A-Za-z_]\w*)(:=|=|@)([\s\S]*)$/;

export function parseToolArgs(items: readonly string[], readStdin: () => Buffer = () => readFileSync(0)): Record<string, unknown> {
  if (items.length === 1 && (items[0]!.trimStart().startsWith('{') || items[0] === '-')) {
    const text = items[0] === '-' ? readStdin().toString('utf8') : items[0]!;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw usage(`arguments ${items[0] === '-' ? 'on stdin ' : ''}look like a JSON object but do not parse: ${(err as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw usage('a JSON argument must be an object of named parameters');
    return parsed as Record<string, unknown>;
  }
  const out: Record<string, unknown> = {};
  let stdinUsed = false;
  for (const item of items) {
    const m = ITEM.exec(item);
    if (!m) {
      const at = /:=|=|@/.exec(item);
      const key = at ? item.slice(0, at.index) : '';
      if (key) throw usage(`argument name '${key}' is not a valid parameter name`);
      throw usage(`argument '${item}' is not key=value, key:=JSON or key@FILE (or pass one JSON object, or - to read it from stdin)`);
    }
    const [, key, op, value] = m as unknown as [string, string, string, string];
    if (key in out) throw usage(`argument '${key}' is given twice`);
    if (op === '=') out[key] = { [CLI_TEXT]: value };
    else if (op === ':=') {
      try {
        out[key] = JSON.parse(value);
      } catch (err) {
        throw usage(`argument '${key}:=' needs JSON (e.g. ${key}:='[1, 2]' or ${key}:='"text"'): ${(err as Error).message}`);
      }
    } else {
      if (value === '-') {
        if (stdinUsed) throw usage(`only one argument can read stdin ('${key}@-')`);
        stdinUsed = true;
        out[key] = { [CLI_BYTES]: readStdin() };
        continue;
      }
      try {
        out[key] = { [CLI_BYTES]: readFileSync(value) };
      } catch (err) {
        throw usage(`argument '${key}@${value}': cannot read ${value}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
      }
    }
  }
  return out;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * A duration as the command line takes it: `500ms`, `5s`, `1.5s`, `2m`, `1h`, or a bare number of
 * milliseconds. Positive, whole milliseconds, at most `maxMs` (the longest timer Node can hold).
 */
export function parseDuration(raw: string, flag: string, maxMs: number): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
  if (!m) throw usage(`${flag} expects a duration such as 500ms, 5s, 2m or 1h (a bare number is milliseconds), got '${raw}'`);
  const ms = Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? 'ms']!);
  if (ms <= 0) throw usage(`${flag} must be longer than 0 ms, got '${raw}'`);
  if (ms > maxMs) throw usage(`${flag} is at most ${maxMs} ms (about ${Math.floor(maxMs / 86_400_000)} days), got '${raw}'`);
  return ms;
}

export function parsePositiveInt(raw: string, flag: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) <= 0) throw usage(`${flag} expects a positive integer, got '${raw}'`);
  return Number(raw);
}

/** `key=value` items (repeated flags, or comma-separated) as labels; anything else is a usage error naming `flag`. */
export function parseLabels(items: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items.flatMap((i) => i.split(','))) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw usage(`${flag} expects key=value labels, got '${item}'`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/**
 * An agent's own labels (`up --labels k=v,…`): stricter than `--require`, since they are published
 * to every router (and etcd). A usage error names the bad one.
 */
export function parseAgentLabels(items: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items.flatMap((i) => i.split(',')).filter((i) => i !== '')) {
    const eq = item.indexOf('=');
    const key = eq > 0 ? item.slice(0, eq) : '';
    const value = eq > 0 ? item.slice(eq + 1) : '';
    if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/.test(key)) throw usage(`${flag} expects key=value labels (key: letters, digits, . _ / -, at most 63), got '${item.slice(0, 100)}'`);
    if (!/^[A-Za-z0-9._:/@+-]{0,256}$/.test(value)) throw usage(`${flag}: the value of label '${key}' may hold letters, digits and . _ : / @ + - (at most 256), got '${value.slice(0, 100)}'`);
    if (key in out) throw usage(`${flag}: label '${key}' is given twice`);
    if (key === 'agent') throw usage(`${flag}: 'agent' is reserved (every agent carries agent=<its id>)`);
    out[key] = value;
  }
  return out;
}
