// A router's view of the agents registered in etcd, and what each change means for the router.
// Pure (no client, no clock): the membership feeds it what etcd says (a snapshot, then watch
// events) and turns the changes it returns into membership events and log lines.
//
// The meaning of an entry for the router:
// - `up` when an agent is serving and the router was not told so yet, or its address, labels or
//   process (startedAt, pid) changed: the router (re)connects to it;
// - nothing when a joined agent registers another state (draining, stopping): its heartbeats have
//   told the router already (they carry `serving`), and it is still alive, finishing its calls, so
//   it is not `down` (that is an observed exit, which etcd cannot see); it is `up` again when it
//   serves again. An agent first seen in another state is a member, not joined, until it serves;
// - `gone` when its key is deleted (lease expired or revoked) or overwritten with a value that no
//   longer passes the checks: the router forgets it. Stop-routing-now stays the detector's call.
// A held agent (drained by `cluster drain`) gets no `up` until it is released.
import { DEFAULTS } from '../defaults.js';
import type { MemberInfo } from './local-membership.js';
import { parseEntry, type AgentEntry, type RegistrationState } from './etcd-entry.js';

/** An agent as an etcd membership knows it. */
export interface EtcdMember extends MemberInfo {
  host: string;
  capacity: number;
  state: RegistrationState;
  startedAt: number;
}

export type ViewChange =
  | { type: 'up'; member: EtcdMember }
  | { type: 'gone'; member: EtcdMember }
  /** A key whose value is ignored (said once per key and reason). */
  | { type: 'ignored'; key: string; why: string };

interface Known {
  entry: AgentEntry;
  member: EtcdMember;
  /** The router was told `up`, and the agent has been serving since. */
  told: boolean;
  /** An `up` was held back while the agent was held. */
  owed: boolean;
}

/** Bad keys remembered (so each is reported once); past this, more bad keys are reported once in all. */
const MAX_BAD_KEYS = 1_000;

export class RegistryView {
  private readonly known = new Map<string, Known>();
  private readonly held = new Set<string>();
  /** Keys whose value was ignored, with why (a value rewritten with the same problem is not reported again). */
  private readonly bad = new Map<string, string>();
  private overflowReported = false;

  constructor(
    private readonly prefix: string,
    private readonly maxValueBytes: number = DEFAULTS.registryValueMaxBytes,
  ) {}

  members(): EtcdMember[] {
    return [...this.known.values()].map((k) => k.member);
  }

  has(id: string): boolean {
    return this.known.has(id);
  }

  get size(): number {
    return this.known.size;
  }

  /** A key was written (a watch `put`). */
  put(key: string, value: Uint8Array): ViewChange[] {
    const out: ViewChange[] = [];
    const parsed = parseEntry(this.prefix, key, value, this.maxValueBytes);
    const id = key.slice(this.prefix.length);
    if (!parsed.ok) {
      this.reportBad(key, parsed.why, out);
      const old = this.known.get(id);
      // Its last good value is no proof of anything now: forget it rather than route to a stale address.
      if (old && key.startsWith(this.prefix)) {
        this.forget(id);
        out.push({ type: 'gone', member: old.member });
      }
      return out;
    }
    this.bad.delete(key);
    this.apply(parsed.entry, out);
    return out;
  }

  /** A key was deleted (a watch `delete`: its lease expired or was revoked, or someone deleted it). */
  delete(key: string): ViewChange[] {
    this.bad.delete(key);
    if (!key.startsWith(this.prefix)) return [];
    const id = key.slice(this.prefix.length);
    const old = this.known.get(id);
    if (!old) return [];
    this.forget(id);
    return [{ type: 'gone', member: old.member }];
  }

  /** What etcd holds under the prefix, read whole (at start, and after etcd was lost): reconciled with the view. */
  reset(kvs: ReadonlyArray<{ key: string; value: Uint8Array }>): ViewChange[] {
    const out: ViewChange[] = [];
    const present = new Set(kvs.map((kv) => kv.key));
    for (const key of [...this.bad.keys()]) if (!present.has(key)) this.bad.delete(key);
    for (const [id, k] of [...this.known]) {
      if (present.has(this.prefix + id)) continue;
      this.forget(id);
      out.push({ type: 'gone', member: k.member });
    }
    for (const kv of kvs) out.push(...this.put(kv.key, kv.value));
    return out;
  }

  /** No `up` for `id` until `release` (the router drained it); false when no such agent is known. */
  hold(id: string): boolean {
    if (!this.known.has(id)) return false;
    this.held.add(id);
    return true;
  }

  /** Lifts `hold`: the `up` held back meanwhile (if it is serving) is given now. */
  release(id: string): ViewChange[] {
    if (!this.held.delete(id)) return [];
    const k = this.known.get(id);
    if (!k || !k.owed) return [];
    k.owed = false;
    if (k.entry.state !== 'serving') return [];
    k.told = true;
    return [{ type: 'up', member: k.member }];
  }

  /** A gone agent is forgotten with its hold: if it registers again, it is a new start (the router forgot its cordon too). */
  private forget(id: string): void {
    this.known.delete(id);
    this.held.delete(id);
  }

  private apply(entry: AgentEntry, out: ViewChange[]): void {
    const old = this.known.get(entry.id);
    const member = toMember(entry);
    const k: Known = { entry, member, told: old?.told ?? false, owed: old?.owed ?? false };
    this.known.set(entry.id, k);
    if (entry.state === 'serving') {
      if (k.told && old && !newIdentity(old.entry, entry)) return;
      if (this.held.has(entry.id)) {
        k.owed = true;
        return;
      }
      k.told = true;
      out.push({ type: 'up', member });
      return;
    }
    k.owed = false;
    k.told = false;
  }

  private reportBad(key: string, why: string, out: ViewChange[]): void {
    if (this.bad.get(key) === why) return;
    if (!this.bad.has(key) && this.bad.size >= MAX_BAD_KEYS) {
      if (!this.overflowReported) out.push({ type: 'ignored', key: `${this.prefix}*`, why: `more than ${MAX_BAD_KEYS} keys with bad values; no more are reported` });
      this.overflowReported = true;
      return;
    }
    this.bad.set(key, why);
    out.push({ type: 'ignored', key, why });
  }
}

/** A change the router must reconnect for: another address, other labels, or another process. */
function newIdentity(a: AgentEntry, b: AgentEntry): boolean {
  return a.address !== b.address || a.startedAt !== b.startedAt || a.pid !== b.pid || !sameLabels(a.labels, b.labels);
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
}

function toMember(e: AgentEntry): EtcdMember {
  return {
    id: e.id,
    address: e.address,
    pid: e.pid,
    labels: { ...e.labels },
    version: e.version,
    workerPids: [],
    restarts: 0,
    host: e.host,
    capacity: e.capacity,
    state: e.state,
    startedAt: e.startedAt,
  };
}
