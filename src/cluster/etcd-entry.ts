// What an agent writes at `/snakepit/v1/agents/<id>` in etcd, and how a router reads it back.
// Anyone who can write to etcd can write there, so a value is hostile until it passes `parseEntry`:
// a size cap before anything else, JSON parsed in a try, every field's type and bounds checked,
// the id equal to the key's last segment, and the address something a socket can dial. Pure.
import { DEFAULTS } from '../defaults.js';
import { SnakepitError } from '../errors.js';
import { formatHostPort, parseHostPort } from './host-port.js';

/** Where agents register, `v1` being the shape of the value below. */
export const AGENTS_PREFIX = '/snakepit/v1/agents/';

/** An agent's own account of itself: `serving` takes calls; anything else does not (yet, or any more). */
export const REGISTRATION_STATES = ['starting', 'serving', 'draining', 'stopping'] as const;
export type RegistrationState = (typeof REGISTRATION_STATES)[number];

export interface AgentEntry {
  id: string;
  /** The address routers dial (the agent's `--advertise`), `HOST:PORT`. */
  address: string;
  labels: Record<string, string>;
  /** Calls it can run at once (its workers × threads). */
  capacity: number;
  version: string;
  state: RegistrationState;
  /** When its process started, ms since the epoch: a new value means a new process. */
  startedAt: number;
  pid?: number;
  /** Its host name (for people: routers dial `address`). */
  host: string;
}

/** Same rule as an agent id kept in a home (src/daemon/home.ts). */
const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/;
const MAX_LABELS = 64;
const MAX_LABEL_VALUE = 256;
const MAX_TEXT = 256;
/** Control characters: never in a value a terminal (`cluster status`) or a text log shows. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Why `id` cannot be an agent id, or null when it can. */
export function agentIdProblem(id: string): string | null {
  return AGENT_ID.test(id) ? null : `agent id '${id.slice(0, 80)}' is not 1-64 letters, digits, '.', '_' or '-' (starting with a letter or digit)`;
}

export function agentKey(prefix: string, id: string): string {
  return `${prefix}${id}`;
}

export type ParsedEntry = { ok: true; entry: AgentEntry } | { ok: false; why: string };

/**
 * The entry at `key` (under `prefix`) with `value`, or why it is ignored. Unknown fields are
 * allowed (a newer agent may add some); known ones must have their type.
 */
export function parseEntry(prefix: string, key: string, value: Uint8Array, maxBytes: number = DEFAULTS.registryValueMaxBytes): ParsedEntry {
  if (!key.startsWith(prefix)) return { ok: false, why: `key is not under ${prefix}` };
  const suffix = key.slice(prefix.length);
  const idWhy = agentIdProblem(suffix);
  if (idWhy) return { ok: false, why: `the key's last segment: ${idWhy}` };
  if (value.byteLength > maxBytes) return { ok: false, why: `value of ${value.byteLength} bytes is above registryValueMaxBytes (${maxBytes})` };
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8'));
  } catch (err) {
    return { ok: false, why: `value is not JSON (${(err as Error).message.slice(0, 100)})` };
  }
  const why = entryProblem(raw);
  if (why) return { ok: false, why };
  const v = raw as AgentEntry;
  if (v.id !== suffix) return { ok: false, why: `id '${v.id}' differs from the key's last segment '${suffix}'` };
  const hp = parseHostPort(v.address);
  if (typeof hp === 'string') return { ok: false, why: `address: expected HOST:PORT, ${hp}` };
  const entry: AgentEntry = {
    id: v.id,
    address: formatHostPort(hp),
    labels: { ...v.labels },
    capacity: v.capacity,
    version: v.version,
    state: v.state,
    startedAt: v.startedAt,
    host: v.host,
  };
  if (v.pid !== undefined) entry.pid = v.pid;
  return { ok: true, entry };
}

/** Why `v` is not an entry (field types and bounds), or null. */
export function entryProblem(v: unknown): string | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'value is not a JSON object';
  const o = v as Record<string, unknown>;
  if (typeof o.id !== 'string') return 'id is not a string';
  const idWhy = agentIdProblem(o.id);
  if (idWhy) return idWhy;
  if (typeof o.address !== 'string') return 'address is not a string';
  if (typeof o.labels !== 'object' || o.labels === null || Array.isArray(o.labels)) return 'labels is not an object';
  const labels = Object.entries(o.labels as Record<string, unknown>);
  if (labels.length > MAX_LABELS) return `${labels.length} labels (at most ${MAX_LABELS})`;
  for (const [k, val] of labels) {
    if (!LABEL_KEY.test(k)) return `label name '${k.slice(0, 80)}' is not 1-63 letters, digits, '.', '_', '/' or '-'`;
    if (typeof val !== 'string' || val.length > MAX_LABEL_VALUE || CONTROL.test(val)) return `label '${k}' is not a string of at most ${MAX_LABEL_VALUE} printable characters`;
  }
  if (!Number.isSafeInteger(o.capacity) || (o.capacity as number) < 0) return 'capacity is not a non-negative integer';
  if (typeof o.version !== 'string' || o.version.length > MAX_TEXT || CONTROL.test(o.version)) return 'version is not a short printable string';
  if (typeof o.state !== 'string' || !(REGISTRATION_STATES as readonly string[]).includes(o.state)) return `state is not one of ${REGISTRATION_STATES.join(', ')}`;
  if (typeof o.startedAt !== 'number' || !Number.isFinite(o.startedAt) || o.startedAt < 0) return 'startedAt is not a time (ms since the epoch)';
  if (o.pid !== undefined && (!Number.isSafeInteger(o.pid) || (o.pid as number) < 1)) return 'pid is not a positive integer';
  if (typeof o.host !== 'string' || o.host.length > MAX_TEXT || CONTROL.test(o.host)) return 'host is not a short printable string';
  return null;
}

/** The value an agent writes, checked as a router will read it (a value routers would ignore fails here, at the agent). */
export function encodeEntry(entry: AgentEntry, maxBytes: number = DEFAULTS.registryValueMaxBytes): string {
  const hp = parseHostPort(entry.address);
  const why = typeof hp === 'string' ? `the advertised address: expected HOST:PORT, ${hp}` : entryProblem(entry);
  if (why) throw new SnakepitError('CONFIG_INVALID', `cannot register this agent in etcd: ${why}`);
  const text = JSON.stringify(entry);
  if (Buffer.byteLength(text) > maxBytes) throw new SnakepitError('CONFIG_INVALID', `cannot register this agent in etcd: its entry has ${Buffer.byteLength(text)} bytes, above registryValueMaxBytes (${maxBytes}); use fewer or shorter labels`);
  return text;
}
