// Parsing of `exec` arguments: `key=value ...` (a value is JSON when it parses as JSON, else a
// plain string) or a single JSON object. Pure, so it is tested as a table.
import { usage } from './output.js';

export function parseToolArgs(items: readonly string[]): Record<string, unknown> {
  if (items.length === 1 && items[0]!.trimStart().startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(items[0]!);
    } catch (err) {
      throw usage(`arguments look like a JSON object but do not parse: ${(err as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw usage('a JSON argument must be an object of named parameters');
    return parsed as Record<string, unknown>;
  }
  const out: Record<string, unknown> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw usage(`argument '${item}' is not key=value (or pass one JSON object)`);
    const key = item.slice(0, eq);
    if (!/^[A-Za-z_][\w]*$/.test(key)) throw usage(`argument name '${key}' is not a valid parameter name`);
    if (key in out) throw usage(`argument '${key}' is given twice`);
    out[key] = parseValue(item.slice(eq + 1));
  }
  return out;
}

function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
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
