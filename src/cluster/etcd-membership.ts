// Membership across hosts: the agents are whoever is registered under `/snakepit/v1/agents/` in
// etcd (etcd-registration.ts writes there). The router reads the prefix, then watches it from the
// revision it read, so no change between the two is missed. All coordination is etcd's: two
// routers watching the same prefix see the same agents, and rendezvous hashing needs no more.
//
// When etcd is lost (the watch breaks), the router keeps its last view and keeps routing on it,
// reports `degraded`, and reconnects with backoff; once back, it reads the prefix again and
// reconciles (agents that vanished meanwhile are `gone`, new ones `up`), then watches from there.
// Etcd unreachable at start is REGISTRY_UNAVAILABLE naming the endpoints.
import type { Etcd3, Watcher } from 'etcd3';
import type { AgentLogger } from '../agent/log.js';
import { DEFAULTS } from '../defaults.js';
import { SnakepitError } from '../errors.js';
import type { Membership, MembershipEvents } from './local-membership.js';
import { AGENTS_PREFIX } from './etcd-entry.js';
import { ReconnectBackoff, RegistryLink, openEtcd, registryUnavailable, retryWithin, withDeadline, type RegistryConfig, type RegistryStatus, type RegistryTimings } from './etcd.js';
import { RegistryView, type EtcdMember, type ViewChange } from './etcd-view.js';

export interface EtcdMembershipOptions {
  registry: RegistryConfig;
  logger: AgentLogger;
  /** Where agents register (default AGENTS_PREFIX); must end with '/'. */
  prefix?: string;
  timings?: RegistryTimings;
  /** Largest value accepted at an agent's key (default DEFAULTS.registryValueMaxBytes). */
  valueMaxBytes?: number;
  /** Told when the link to etcd changes (ok ⇄ degraded). */
  onStatus?: (status: EtcdMembershipStatus) => void;
}

export interface EtcdMembershipStatus extends RegistryStatus {
  kind: 'etcd';
  /** Agents in the view (the last one etcd gave, while degraded). */
  members: number;
  /** The etcd revision the view is at (0 before the first read). */
  revision: number;
}

export class EtcdMembership implements Membership {
  private readonly client: Etcd3;
  private readonly prefix: string;
  private readonly view: RegistryView;
  private readonly link: RegistryLink;
  private readonly backoff: ReconnectBackoff;
  private readonly timeoutMs: number;
  private events: MembershipEvents | undefined;
  private watcher: Watcher | undefined;
  /** Bumped for every read-and-watch: events of an older watcher are ignored. */
  private generation = 0;
  private revision = 0;
  private retry: NodeJS.Timeout | undefined;
  /** Ends the reconnect loop's pause at once (stop). */
  private wake: (() => void) | undefined;
  private reconnecting = false;
  private stopped = false;

  constructor(private readonly opts: EtcdMembershipOptions) {
    this.prefix = opts.prefix ?? AGENTS_PREFIX;
    if (!this.prefix.endsWith('/')) throw new SnakepitError('CONFIG_INVALID', `the registry prefix '${this.prefix}' must end with '/'`);
    this.timeoutMs = opts.timings?.timeoutMs ?? DEFAULTS.registryTimeoutMs;
    this.view = new RegistryView(this.prefix, opts.valueMaxBytes);
    this.backoff = new ReconnectBackoff(opts.timings);
    this.link = new RegistryLink(opts.registry, (status, was) => {
      if (status.state === 'degraded') opts.logger.log('warn', 'registry', `etcd lost (${status.lastError}): routing on the last view of ${this.view.size} agent(s); reconnecting`);
      else if (was === 'degraded') opts.logger.log('info', 'registry', `etcd is back (${status.endpoints.join(', ')}): ${this.view.size} agent(s) registered`);
      opts.onStatus?.(this.status());
    });
    this.client = openEtcd(opts.registry, opts.timings);
  }

  /** Reads the registered agents (each serving one is `up`) and watches for changes; REGISTRY_UNAVAILABLE if etcd does not answer within registryTimeoutMs (tried again meanwhile). */
  async start(events: MembershipEvents): Promise<void> {
    this.events = events;
    const started = Date.now();
    try {
      await retryWithin(this.timeoutMs, this.opts.timings ?? {}, (ms) => this.sync(ms));
    } catch (err) {
      this.close();
      throw registryUnavailable(this.opts.registry, Date.now() - started, err);
    }
  }

  members(): EtcdMember[] {
    return this.view.members();
  }

  status(): EtcdMembershipStatus {
    return { ...this.link.status, kind: 'etcd', members: this.view.size, revision: this.revision };
  }

  async scale(n: number): Promise<void> {
    throw new SnakepitError('USAGE', `the agents of an etcd cluster are started on their own hosts (\`snakepit up --registry …\` there), so a router cannot scale them to ${n}; \`cluster scale\` is for a local cluster`);
  }

  /** A held agent gets no `up` (is not routed to again) until `release`; the router holds an agent it drains. */
  hold(id: string): void {
    if (!this.view.hold(id)) throw this.noAgent(id);
  }

  release(id: string): void {
    this.emit(this.view.release(id));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.retry);
    const watcher = this.watcher;
    this.watcher = undefined;
    this.generation++;
    if (watcher) await withDeadline(watcher.cancel(), this.timeoutMs, () => new Error('cancel timed out')).catch(() => undefined);
    this.close();
  }

  private close(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.wake?.();
    this.client.close();
  }

  private noAgent(id: string): SnakepitError {
    return new SnakepitError('USAGE', `no agent '${id}' registered in etcd (agents: ${this.view.members().map((m) => m.id).join(', ') || 'none'})`);
  }

  /**
   * Reads the prefix whole and reconciles the view with it, then watches from the next revision.
   * Bounded by `budgetMs` in all; a watcher that did not connect in time is cancelled.
   * Resolves with its generation once the watch is established; a failure after that is `lost`.
   */
  private async sync(budgetMs = this.timeoutMs): Promise<number> {
    const gen = ++this.generation;
    const deadline = Date.now() + budgetMs;
    const timedOut = (): Error => new Error(`no answer within ${budgetMs} ms`);
    const res = await withDeadline(this.client.getAll().prefix(this.prefix).exec(), budgetMs, timedOut);
    if (gen !== this.generation) throw new Error('superseded');
    this.revision = Number(res.header.revision);
    this.emit(this.view.reset(res.kvs.map((kv) => ({ key: kv.key.toString('utf8'), value: kv.value }))));
    const watcher = this.client
      .watch()
      .prefix(this.prefix)
      .startRevision(String(BigInt(res.header.revision) + 1n))
      .watcher();
    this.watcher = watcher;
    // Listeners first: a change may arrive in the same turn as the watch's creation.
    watcher.on('put', (kv) => {
      if (gen !== this.generation) return;
      this.revision = Math.max(this.revision, Number(kv.mod_revision));
      this.emit(this.view.put(kv.key.toString('utf8'), kv.value));
    });
    watcher.on('delete', (kv) => {
      if (gen !== this.generation) return;
      this.revision = Math.max(this.revision, Number(kv.mod_revision));
      this.emit(this.view.delete(kv.key.toString('utf8')));
    });
    // Lost etcd, or a watch etcd cancelled (e.g. its revision was compacted away): read again.
    // Before the watch is established a failure fails this sync (also one that comes in the same
    // turn as 'connected'); after, it is `lost`.
    let established = false;
    let failure: unknown;
    let failed: (err: unknown) => void = () => undefined;
    const fail = (err: unknown): void => {
      if (gen !== this.generation) return;
      if (established) return this.lost(err);
      failure ??= err;
      failed(err);
    };
    watcher.on('disconnected', fail);
    watcher.on('error', fail);
    const connected = new Promise<void>((resolve, reject) => {
      failed = reject;
      watcher.once('connected', () => resolve());
    });
    try {
      await withDeadline(connected, Math.max(1, deadline - Date.now()), timedOut);
      if (failure !== undefined) throw failure;
      if (gen !== this.generation) throw new Error('superseded');
    } catch (err) {
      if (this.watcher === watcher) this.watcher = undefined;
      void watcher.cancel().catch(() => undefined);
      throw err;
    }
    established = true;
    return gen;
  }

  /** etcd failed us: keep the view, report degraded, reconnect with backoff. */
  private lost(err: unknown): void {
    if (this.stopped) return;
    this.link.lost(err);
    this.generation++; // the current watcher's events and any sync in flight no longer count
    const watcher = this.watcher;
    this.watcher = undefined;
    if (watcher) void watcher.cancel().catch(() => undefined);
    if (!this.reconnecting) void this.reconnect();
  }

  /** Read-and-watch again, with backoff, until it holds (etcd lost again meanwhile: once more). */
  private async reconnect(): Promise<void> {
    this.reconnecting = true;
    try {
      while (!this.stopped) {
        await this.pause(this.backoff.next());
        if (this.stopped) return;
        try {
          if ((await this.sync()) === this.generation) break;
        } catch (err) {
          if (!this.stopped) this.link.lost(err);
        }
      }
    } finally {
      this.reconnecting = false;
    }
    if (this.stopped) return;
    this.backoff.reset();
    this.link.back();
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.retry = setTimeout(resolve, ms);
      this.retry.unref();
    });
  }

  private emit(changes: ViewChange[]): void {
    const events = this.events;
    for (const c of changes) {
      switch (c.type) {
        case 'up':
          this.opts.logger.log('info', 'registry', `agent ${c.member.id} registered: ${c.member.address} on ${c.member.host}`);
          events?.up(c.member);
          break;
        case 'gone':
          this.opts.logger.log('info', 'registry', `agent ${c.member.id} left etcd (its key was deleted: lease expired or revoked)`);
          events?.gone?.(c.member);
          break;
        case 'ignored':
          // Key and reason quote what someone wrote to etcd: no control characters in our log.
          this.opts.logger.log('warn', 'registry', `ignored ${printable(c.key.slice(0, 200))}: ${printable(c.why)}`);
          break;
      }
    }
  }
}

function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}
