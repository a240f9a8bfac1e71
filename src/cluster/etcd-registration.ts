// An agent's registration in etcd: `/snakepit/v1/agents/<id>` = its entry (etcd-entry.ts), under a
// lease of registryLeaseTtlMs that etcd3 renews every third of the TTL. A clean stop revokes the
// lease, so the key is gone at once; a dead agent's key goes when its lease expires.
//
// The registration never throws into the agent after `start`: etcd lost later is logged once,
// reported `degraded`, and the agent keeps serving. When etcd answers again the registration
// carries on: the same lease if it is still alive (state changes made meanwhile are written then),
// or, if etcd let it expire (or etcd3 gave up on it after twice the TTL), a new lease and the key
// written again. Only `start` fails: REGISTRY_UNAVAILABLE naming the endpoints, within
// registryTimeoutMs, so an agent told to register does not serve unregistered without saying so.
import { hostname } from 'node:os';
import type { Etcd3, Lease } from 'etcd3';
import type { AgentLogger } from '../agent/log.js';
import { DEFAULTS } from '../defaults.js';
import { SnakepitError } from '../errors.js';
import { VERSION } from '../paths.js';
import { AGENTS_PREFIX, agentKey, encodeEntry, parseEntry, type AgentEntry, type RegistrationState } from './etcd-entry.js';
import { isAlive } from '../proc.js';
import { ReconnectBackoff, RegistryLink, describeEtcdError, openEtcd, registryUnavailable, retryWithin, withDeadline, type RegistryConfig, type RegistryStatus, type RegistryTimings } from './etcd.js';

export interface EtcdRegistrationOptions {
  registry: RegistryConfig;
  /** What the agent registers; `version`, `host`, `pid`, `startedAt` default to this process's, `state` to `serving`, `labels` to none. */
  agent: Pick<AgentEntry, 'id' | 'address' | 'capacity'> & Partial<Omit<AgentEntry, 'id' | 'address' | 'capacity'>>;
  logger: AgentLogger;
  /** Where agents register (default AGENTS_PREFIX); must end with '/'. */
  prefix?: string;
  /** Lease TTL, ms (default DEFAULTS.registryLeaseTtlMs; etcd counts whole seconds: rounded up). */
  leaseTtlMs?: number;
  timings?: RegistryTimings;
  /** Told when the link to etcd changes (ok ⇄ degraded). */
  onStatus?: (status: EtcdRegistrationStatus) => void;
}

export interface EtcdRegistrationStatus extends RegistryStatus {
  key: string;
  /** The lease the key is under (hex), or null while there is none (before start, etcd lost and the lease expired). */
  lease: string | null;
  /** What the entry in etcd says (or will say once etcd is back). */
  entry: AgentEntry;
  /** The entry in etcd is known to be the current one. */
  written: boolean;
}

export class EtcdRegistration {
  readonly key: string;
  private readonly client: Etcd3;
  private readonly link: RegistryLink;
  private readonly backoff: ReconnectBackoff;
  private readonly ttlSeconds: number;
  private readonly timeoutMs: number;
  private current: AgentEntry;
  /** The value in etcd, as far as we know (undefined: none, or unknown). */
  private written: string | undefined;
  private lease: Lease | undefined;
  private leaseId: string | null = null;
  private flushing: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;

  constructor(private readonly opts: EtcdRegistrationOptions) {
    const prefix = opts.prefix ?? AGENTS_PREFIX;
    if (!prefix.endsWith('/')) throw new SnakepitError('CONFIG_INVALID', `the registry prefix '${prefix}' must end with '/'`);
    const ttlMs = opts.leaseTtlMs ?? DEFAULTS.registryLeaseTtlMs;
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new SnakepitError('CONFIG_INVALID', `the registry lease TTL must be a positive number of ms, got ${ttlMs}`);
    this.ttlSeconds = Math.max(1, Math.ceil(ttlMs / 1000));
    this.timeoutMs = opts.timings?.timeoutMs ?? DEFAULTS.registryTimeoutMs;
    const a = opts.agent;
    this.current = {
      id: a.id,
      address: a.address,
      labels: { ...a.labels },
      capacity: a.capacity,
      version: a.version ?? VERSION,
      state: a.state ?? 'serving',
      startedAt: a.startedAt ?? Date.now(),
      pid: a.pid ?? process.pid,
      host: a.host ?? hostname().slice(0, 256),
    };
    encodeEntry(this.current); // a value routers would ignore is CONFIG_INVALID here, before anything starts
    this.key = agentKey(prefix, a.id);
    this.backoff = new ReconnectBackoff(opts.timings);
    this.link = new RegistryLink(opts.registry, (status, was) => {
      if (status.state === 'degraded') opts.logger.log('warn', 'registry', `etcd lost (${status.lastError}): still serving; the registration of ${this.current.id} resumes when etcd is back`);
      else if (was === 'degraded') opts.logger.log('info', 'registry', `etcd is back: ${this.current.id} registered (lease ${this.leaseId})`);
      opts.onStatus?.(this.status());
    });
    this.client = openEtcd(opts.registry, opts.timings);
  }

  /** Grants the lease and writes the entry; REGISTRY_UNAVAILABLE when etcd does not answer within registryTimeoutMs (tried again meanwhile). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const began = Date.now();
    let checked = false;
    let conflict: SnakepitError | undefined;
    try {
      await retryWithin(this.timeoutMs, this.opts.timings ?? {}, async (ms) => {
        if (!checked) {
          conflict = await this.duplicate(ms);
          checked = true;
          if (conflict) return; // not retried: etcd answered, and the answer is no
        }
        await this.register(ms);
      });
    } catch (err) {
      this.close();
      throw registryUnavailable(this.opts.registry, Date.now() - began, err);
    }
    if (conflict) {
      this.close();
      throw conflict;
    }
    this.opts.logger.log('info', 'registry', `registered ${this.key} = ${this.current.address} (lease ${this.leaseId}, TTL ${this.ttlSeconds} s)`);
  }

  /**
   * Another live agent already holds this id (a home copied to another host, or its agent.id
   * copied): writing over its entry would make routers send both agents' calls to one address.
   * The same host's entry with a dead pid is this home's previous run, whose lease has not expired
   * yet: taken over.
   */
  private async duplicate(budgetMs: number): Promise<SnakepitError | undefined> {
    const raw = await withDeadline(this.client.get(this.key).buffer(), budgetMs, () => new Error(`no answer within ${budgetMs} ms`));
    if (!raw) return undefined;
    const parsed = parseEntry(this.opts.prefix ?? AGENTS_PREFIX, this.key, raw);
    if (!parsed.ok) return undefined; // not a valid entry: routers ignore it, ours replaces it
    const other = parsed.entry;
    const sameHost = other.host === this.current.host;
    if (sameHost && (other.pid === undefined || other.pid === process.pid || !isAlive(other.pid))) return undefined;
    return new SnakepitError(
      'REGISTRY_CONFLICT',
      `agent id ${this.current.id} is already registered by a live agent (host ${other.host}, pid ${other.pid}, address ${other.address}): two agents must not share an id. ` +
        `Its id comes from its home's agent.id: give this agent its own home (--home), or delete agent.id there if the home was copied, or stop the other agent`,
    );
  }

  /** The agent's state changed (e.g. `draining` as it drains): written now, or when etcd is back. Never rejects. */
  setState(state: RegistrationState): Promise<void> {
    return this.update({ state });
  }

  /** Other fields changed (labels, capacity, state): written now, or when etcd is back. Never rejects; a value routers would refuse is not written (logged). */
  update(patch: Partial<Pick<AgentEntry, 'labels' | 'capacity' | 'state'>>): Promise<void> {
    const next = { ...this.current, ...patch, labels: { ...(patch.labels ?? this.current.labels) } };
    try {
      encodeEntry(next);
    } catch (err) {
      this.opts.logger.log('error', 'registry', `not updated: ${(err as Error).message}`);
      return Promise.resolve();
    }
    this.current = next;
    return this.flush();
  }

  entry(): AgentEntry {
    return { ...this.current, labels: { ...this.current.labels } };
  }

  status(): EtcdRegistrationStatus {
    return { ...this.link.status, key: this.key, lease: this.leaseId, entry: this.entry(), written: this.written === encodeEntry(this.current) };
  }

  /** Revokes the lease (the key is gone at once) and closes the client. Never rejects: etcd unreachable, the key goes with the lease's TTL. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.retry);
    const lease = this.lease;
    this.lease = undefined;
    if (lease) {
      try {
        await withDeadline(lease.revoke(), this.timeoutMs, () => new Error(`no answer within ${this.timeoutMs} ms`));
        this.opts.logger.log('info', 'registry', `unregistered ${this.key} (lease ${this.leaseId} revoked)`);
      } catch (err) {
        lease.release();
        this.opts.logger.log('warn', 'registry', `could not revoke lease ${this.leaseId} (${describeEtcdError(err)}): ${this.key} stays until its TTL (${this.ttlSeconds} s) runs out`);
      }
    }
    this.close();
  }

  private close(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.lease?.release();
    this.lease = undefined;
    this.client.close();
  }

  /** A new lease, and the entry written under it; the lease is current only once both worked. Bounded by `budgetMs`. */
  private async register(budgetMs = this.timeoutMs): Promise<void> {
    const lease = this.client.lease(this.ttlSeconds);
    lease.on('keepaliveFailed', (err) => lease === this.lease && this.link.lost(err));
    lease.on('keepaliveSucceeded', () => {
      if (lease !== this.lease) return;
      this.link.back();
      if (this.written !== encodeEntry(this.current)) void this.flush();
    });
    lease.on('lost', (err) => lease === this.lease && this.leaseLost(err));
    const value = encodeEntry(this.current);
    let abandoned = false;
    try {
      const id = await withDeadline(
        (async () => {
          const granted = await lease.grant();
          if (abandoned) throw new Error('abandoned');
          await lease.put(this.key).value(value).exec();
          // A write that landed after we gave up on it put the key under this released lease,
          // which will expire: write it again under the current one (or the next attempt will).
          if (abandoned) {
            this.written = undefined;
            void this.flush();
          }
          return granted;
        })(),
        budgetMs,
        () => new Error(`no answer within ${budgetMs} ms`),
      );
      if (this.stopped) {
        void lease.revoke().catch(() => undefined);
        return;
      }
      // Lost as it was granted (etcd forgot it at once, e.g. restarted empty): its 'lost' went unheard.
      if (lease.revoked()) throw new Error('the lease was lost as soon as it was granted');
      this.lease = lease;
      this.leaseId = BigInt(id).toString(16);
      this.written = value;
    } catch (err) {
      abandoned = true;
      lease.release();
      throw err;
    }
    // Changed while the lease was granted: write the current entry.
    if (this.written !== encodeEntry(this.current)) void this.flush();
  }

  /** Writes the current entry under the current lease (one write at a time; a change meanwhile is written next). */
  private flush(): Promise<void> {
    if (this.flushing || this.stopped) return this.flushing ?? Promise.resolve();
    this.flushing = (async () => {
      try {
        for (;;) {
          const lease = this.lease;
          const value = encodeEntry(this.current);
          if (!lease || this.stopped || this.written === value) return;
          try {
            await lease.put(this.key).value(value).exec();
            this.written = value;
          } catch (err) {
            // Written when etcd answers again (keepalive succeeds) or with the next lease.
            this.link.lost(err);
            return;
          }
        }
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }

  /** etcd says (or etcd3 concluded) the lease is gone: a new one as soon as etcd answers. */
  private leaseLost(err: unknown): void {
    this.lease = undefined;
    this.leaseId = null;
    this.written = undefined;
    this.link.lost(err);
    this.scheduleRegister();
  }

  private scheduleRegister(): void {
    if (this.stopped || this.retry) return;
    this.retry = setTimeout(() => {
      void this.register().then(
        () => {
          this.retry = undefined;
          if (this.stopped) return;
          this.backoff.reset();
          this.link.back();
        },
        (err: unknown) => {
          this.retry = undefined;
          if (this.stopped) return;
          this.link.lost(err);
          this.scheduleRegister();
        },
      );
    }, this.backoff.next());
    this.retry.unref();
  }
}
