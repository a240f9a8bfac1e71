// The one check of a call's shape, where every call enters the agent (the gRPC server, the local
// lane, the embedded client, a router): a request that is not what the API says — a tool name
// that is not a string, a session id of 256 KiB, a timeout no timer can hold — is refused with
// INVALID_ARGUMENTS naming the field and its limit, before anything is queued or remembered.
// JavaScript callers of the embedded API can pass anything, so nothing here trusts the types.
import { DEFAULTS } from '../defaults.js';
import type { ErrorInfo } from '../errors.js';
import type { AgentRequest } from './agent.js';

function invalid(message: string): ErrorInfo {
  return { code: 'INVALID_ARGUMENTS', message };
}

/** Longest pool name accepted in a call (config files allow [A-Za-z0-9_.-]+; this only bounds a peer's string). */
const MAX_POOL_NAME_BYTES = 256;
/** Labels a call may require, and the longest key or value of one, bytes. */
const MAX_LABELS = 32;
const MAX_LABEL_BYTES = 256;

/** Undefined when `req` is well formed, else the error to answer with. */
export function checkRequest(req: AgentRequest): ErrorInfo | undefined {
  const { tool, session, timeoutMs, pool, args } = req as Partial<Record<keyof AgentRequest, unknown>>;
  if (typeof tool !== 'string' || tool.length === 0) return invalid(`the tool name must be a non-empty string, got ${describe(tool)}`);
  if (Buffer.byteLength(tool) > DEFAULTS.maxToolNameBytes) return invalid(`the tool name is ${Buffer.byteLength(tool)} bytes long; the limit is ${DEFAULTS.maxToolNameBytes} (maxToolNameBytes)`);
  if (session !== null && session !== undefined) {
    if (typeof session !== 'string') return invalid(`the session id must be a string, got ${describe(session)}`);
    if (Buffer.byteLength(session) > DEFAULTS.maxSessionIdBytes) return invalid(`the session id is ${Buffer.byteLength(session)} bytes long; the limit is ${DEFAULTS.maxSessionIdBytes} (maxSessionIdBytes)`);
  }
  if (timeoutMs !== undefined && timeoutMs !== 0) {
    if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > DEFAULTS.maxTimeoutMs) {
      return invalid(`timeoutMs must be a whole number of milliseconds from 1 to ${DEFAULTS.maxTimeoutMs} (maxTimeoutMs, ~24.8 days), or 0 for none; got ${describe(timeoutMs)}`);
    }
  }
  if (pool !== undefined && pool !== '' && (typeof pool !== 'string' || Buffer.byteLength(pool) > MAX_POOL_NAME_BYTES)) {
    return invalid(`the pool name must be a string of at most ${MAX_POOL_NAME_BYTES} bytes, got ${describe(pool)}`);
  }
  const require = (req as { require?: unknown }).require;
  if (require !== undefined) {
    const entries = typeof require === 'object' && require !== null ? Object.entries(require) : null;
    if (!entries || entries.length > MAX_LABELS || entries.some(([k, v]) => typeof v !== 'string' || Buffer.byteLength(k) > MAX_LABEL_BYTES || Buffer.byteLength(v) > MAX_LABEL_BYTES)) {
      return invalid(`require must be at most ${MAX_LABELS} labels of string keys and values up to ${MAX_LABEL_BYTES} bytes each`);
    }
  }
  const value = args as { json?: unknown; blobs?: unknown } | undefined;
  if (!value || !Buffer.isBuffer(value.json) || !Array.isArray(value.blobs) || !value.blobs.every((b) => Buffer.isBuffer(b))) {
    return invalid('the arguments must be encoded JSON bytes with a list of byte sections');
  }
  return undefined;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return v.length > 40 ? `a string of ${v.length} characters` : JSON.stringify(v);
  if (typeof v === 'number') return String(v);
  return v === null ? 'null' : typeof v;
}
