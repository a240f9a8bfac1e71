// Local membership (the embedded default, `snakepit cluster up`): the router starts its agents
// itself, each a daemon in a sub-home of the cluster's home (`<home>/agents/<n>`), and supervises
// them the way a pool supervises its workers. An agent's process exit is seen at once (it is the
// router's child) and reported, so the router stops routing to it before any heartbeat is missed;
// it is restarted with backoff and rejoins. Agents stop by themselves if the router is gone
// (`exitWithParent`), so a SIGKILLed router leaves no agent behind for long.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentLogger } from '../agent/log.js';
import type { ToolInfo } from '../client/types.js';
import { cleanupOrphans } from '../daemon/cleanup.js';
import { agentState, ensureHome, homePaths, isAlive, readInfo, removeAgentFiles, type HomePaths } from '../daemon/home.js';
import type { DaemonOptions } from '../daemon/run.js';
import { spawnDaemon, stopDaemon, tail } from '../daemon/spawn.js';
import { DEFAULTS } from '../defaults.js';
import { SnakepitError } from '../errors.js';
import { count } from '../text.js';

/** One agent of the cluster as membership knows it. */
export interface MemberInfo {
  id: string;
  /** Its own home (a sub-home of the cluster's); absent for an agent known only by its TCP address. */
  home?: string;
  /** Its Agent API (`unix:<home>/agent.sock`, or `HOST:PORT` on TCP) and local lane (absent on TCP). */
  address: string;
  lane?: string;
  pid: number | undefined;
  labels: Record<string, string>;
  version: string | undefined;
  workerPids: number[];
  /** Times it was restarted after it died. */
  restarts: number;
  /** What it said it serves when it became ready (absent: the router asks). */
  tools?: ToolInfo[] | undefined;
  pools?: Array<{ name: string; affinity: string }> | undefined;
}

/** An agent of a local cluster: always in a sub-home on this host, with a local lane. */
export type LocalMemberInfo = MemberInfo & { home: string; lane: string };

export interface MembershipEvents {
  /** An agent is ready to take calls (first start or after a restart). */
  up(member: MemberInfo): void;
  /** An agent's process exited (it is restarted with backoff unless membership is stopping or it is held). */
  down(member: MemberInfo, why: string): void;
  /** An agent left the cluster for good (scaled away). */
  gone?(member: MemberInfo): void;
}

/** A membership's own state, as `cluster status` shows it. */
export interface MembershipStatus {
  kind: 'local' | 'etcd';
  /** `degraded`: the source is unreachable; the router routes on its last view. */
  state: 'ok' | 'degraded';
  endpoints?: string[];
  /** Since when (ms since the epoch) it is in this state. */
  since?: number;
  lastError?: string | null;
}

/** What the router needs of any membership (local here; etcd across hosts in etcd-membership.ts). */
export interface Membership {
  start(events: MembershipEvents): Promise<void>;
  /** Where the membership comes from and whether it is current (etcd: `degraded` while etcd is lost). */
  status?(): MembershipStatus;
  members(): MemberInfo[];
  /** Grows or shrinks the cluster to `n` agents (removed ones are stopped gracefully). */
  scale(n: number): Promise<void>;
  /** An agent that exits is not restarted until `release` (a drained agent stays stopped). */
  hold(id: string): void;
  /** Lifts `hold`; an agent that is not running is started again. */
  release(id: string): void;
  stop(): Promise<void>;
}

export interface LocalMembershipOptions {
  /** The cluster's home; agents live in `<home>/agents/<n>`. */
  home: string;
  agents: number;
  /** What each agent runs (pools etc.); `home`, `agentId` and `exitWithParent` are set here. */
  agent: Omit<DaemonOptions, 'home' | 'agentId' | 'exitWithParent'>;
  /** How long an agent may take to report ready, ms. */
  readyWaitMs: number;
  labels?: Record<string, string>;
  logger: AgentLogger;
}

interface Slot {
  n: number;
  paths: HomePaths;
  info: LocalMemberInfo;
  child: ChildProcess | undefined;
  startTime: number | undefined;
  startedAt: number;
  crashStreak: number;
  respawn: NodeJS.Timeout | undefined;
  removing: boolean;
  held: boolean;
}

/** The membership of the local cluster a router daemon with `opts` runs. */
export function clusterMembership(opts: DaemonOptions & { cluster: NonNullable<DaemonOptions['cluster']> }, logger: AgentLogger): LocalMembership {
  // Each agent runs the pools; the router alone serves metrics (one port) and echoes logs.
  // The router alone listens on TCP (`cluster up --listen`): its agents stay on their home sockets.
  const { cluster, home, metricsPort: _port, metricsHost: _host, echoLogs: _echo, watch: _watch, tcp: _tcp, labels: _labels, warnings: _warnings, registry: _registry, router: _router, ...agent } = opts;
  return new LocalMembership({ home, agents: cluster.agents, agent, readyWaitMs: cluster.readyWaitMs, ...(cluster.labels ? { labels: cluster.labels } : {}), logger });
}

/** A logger that keeps its lines until the real one is attached (for what happens before the daemon's log file is open). */
export class DeferredLogger implements AgentLogger {
  private target: AgentLogger | undefined;
  private held: Array<Parameters<AgentLogger['log']>> = [];

  log(...line: Parameters<AgentLogger['log']>): void {
    if (this.target) this.target.log(...line);
    else this.held.push(line);
  }

  attach(target: AgentLogger): void {
    this.target = target;
    for (const line of this.held.splice(0)) target.log(...line);
  }
}

/**
 * A router daemon's agents, started before the rest of the daemon loads (the agents take longest
 * to start; loading the router meanwhile overlaps with them). Undefined when the home cannot be
 * used or already has an agent: the daemon itself then reports that, and nothing was started.
 */
export function prelaunchCluster(opts: DaemonOptions): { membership: LocalMembership; logger: DeferredLogger } | undefined {
  if (!opts.cluster) return undefined;
  const paths = homePaths(opts.home);
  try {
    ensureHome(paths);
    if (agentState(paths).state !== 'none') return undefined;
  } catch {
    return undefined;
  }
  const logger = new DeferredLogger();
  const membership = clusterMembership({ ...opts, cluster: opts.cluster }, logger);
  membership.prelaunch();
  return { membership, logger };
}

/** Where agent `n` of a cluster lives. */
export function agentHome(clusterHome: string, n: number): string {
  return join(clusterHome, 'agents', String(n));
}

export class LocalMembership implements Membership {
  private readonly slots = new Map<number, Slot>();
  private events: MembershipEvents | undefined;
  private stopping = false;
  /** The first agents, when `prelaunch` started them before `start`. */
  private launching: Promise<void> | undefined;
  /** Agents that became ready before `start` gave the events to tell. */
  private readyEarly: MemberInfo[] = [];
  /** Progress of agents starting (the router daemon passes it on to `cluster up`). */
  onProgress: ((line: string) => void) | undefined;
  onReady: ((member: MemberInfo) => void) | undefined;
  /** Progress lines and ready agents seen before the hooks above were set. */
  private heldProgress: Array<() => void> = [];

  constructor(private readonly opts: LocalMembershipOptions) {}

  members(): LocalMemberInfo[] {
    return [...this.slots.values()].filter((s) => !s.removing).map((s) => s.info);
  }

  /**
   * Starts the first agents now, before the router exists (the router daemon calls this before it
   * loads the rest of itself, so its own start overlaps theirs); `start` then waits for them.
   */
  prelaunch(): void {
    if (this.launching) return;
    mkdirSync(join(this.opts.home, 'agents'), { recursive: true, mode: 0o700 });
    this.launching = this.grow(this.opts.agents);
    this.launching.catch(() => undefined); // awaited by start(); a failure meanwhile is not unhandled
  }

  /** A router took it over (`start`): stopping it is the router's job from then on. */
  get adopted(): boolean {
    return this.events !== undefined;
  }

  async start(events: MembershipEvents): Promise<void> {
    this.events = events;
    this.prelaunch();
    for (const m of this.readyEarly.splice(0)) events.up(m);
    await this.launching;
  }

  /** Sets the progress hooks, and replays what they missed. */
  listen(onProgress: (line: string) => void, onReady: (member: MemberInfo) => void): void {
    this.onProgress = onProgress;
    this.onReady = onReady;
    for (const replay of this.heldProgress.splice(0)) replay();
  }

  private progress(line: string): void {
    if (this.onProgress) this.onProgress(line);
    else this.heldProgress.push(() => this.onProgress?.(line));
  }

  async scale(n: number): Promise<void> {
    if (!Number.isInteger(n) || n < 1) throw new SnakepitError('USAGE', `a cluster needs at least one agent, got ${n}`);
    const current = [...this.slots.values()].filter((s) => !s.removing).sort((a, b) => a.n - b.n);
    if (n > current.length) return this.grow(n);
    await Promise.all(current.slice(n).map((s) => this.remove(s)));
  }

  hold(id: string): void {
    const slot = this.slot(id);
    slot.held = true;
    clearTimeout(slot.respawn);
    slot.respawn = undefined;
  }

  release(id: string): void {
    const slot = this.slot(id);
    if (!slot.held) return;
    slot.held = false;
    if (!slot.child && !slot.respawn && !this.stopping) void this.launch(slot, false).catch((err: Error) => this.opts.logger.log('error', slot.info.id, err.message));
  }

  private slot(id: string): Slot {
    const slot = [...this.slots.values()].find((s) => s.info.id === id && !s.removing);
    if (!slot) throw new SnakepitError('USAGE', `no agent '${id}' in the cluster (agents: ${this.members().map((m) => m.id).join(', ')})`);
    return slot;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.slots.values()].map((s) => this.remove(s)));
  }

  /** Starts agents until there are `n`, in parallel; resolves when all are ready (or throws the first failure). */
  private async grow(n: number): Promise<void> {
    const fresh: Slot[] = [];
    for (let i = 1; this.slots.size < n; i++) {
      if (this.slots.has(i)) continue;
      const home = agentHome(this.opts.home, i);
      const paths = homePaths(home);
      const slot: Slot = {
        n: i,
        paths,
        info: { id: `agent-${i}`, home, address: `unix:${paths.socket}`, lane: paths.lane, pid: undefined, labels: { ...this.opts.labels }, version: undefined, workerPids: [], restarts: 0 },
        child: undefined,
        startTime: undefined,
        startedAt: 0,
        crashStreak: 0,
        respawn: undefined,
        removing: false,
        held: false,
      };
      this.slots.set(i, slot);
      fresh.push(slot);
    }
    await Promise.all(fresh.map((s) => this.launch(s, true)));
  }

  /** Starts a slot's agent daemon; `first`: a failure is thrown (cluster up fails) instead of retried. */
  private async launch(slot: Slot, first: boolean): Promise<void> {
    const { paths } = slot;
    ensureHome(paths);
    // What a dead router's agent left: stop a live one (it is not our child), clean up orphans.
    const state = agentState(paths);
    if (state.state === 'running') await stopStranger(paths, state.info.pid, state.info.startTime);
    if (state.state !== 'none') removeAgentFiles(paths);
    await cleanupOrphans(paths.home).catch(() => undefined);
    const daemonOpts: DaemonOptions = { ...this.opts.agent, home: paths.home, agentId: slot.info.id, exitWithParent: true };
    slot.startedAt = Date.now();
    const spawned = await spawnDaemon(paths, daemonOpts, this.opts.readyWaitMs, (line) => this.progress(`${slot.info.id}: ${line}`));
    const { child, outcome } = spawned;
    slot.child = child;
    slot.startTime = spawned.startTime;
    if (outcome === undefined || outcome === 'timeout' || !outcome.ok) {
      if (outcome === 'timeout' && spawned.pid !== undefined && spawned.startTime !== undefined) await stopDaemon(spawned.pid, spawned.startTime);
      const why =
        outcome === 'timeout'
          ? `did not report ready within ${this.opts.readyWaitMs} ms`
          : outcome === undefined
            ? `exited during startup; last lines of ${paths.logFile}:\n${tail(paths.logFile, 20)}`
            : `${outcome.error.code}: ${outcome.error.message}`;
      const err = SnakepitError.from({ code: outcome && outcome !== 'timeout' && !outcome.ok ? outcome.error.code : 'WORKER_START_FAILED', message: `agent ${slot.info.id} (${paths.home}) ${why}` });
      if (first) throw err;
      this.opts.logger.log('error', slot.info.id, err.message);
      this.scheduleRestart(slot, err.message);
      return;
    }
    const info = readInfo(paths);
    slot.info = { ...slot.info, pid: outcome.pid, version: info?.version, workerPids: info?.workerPids ?? [], tools: outcome.tools, pools: outcome.pools };
    child.once('exit', (code, signal) => this.onExit(slot, child, code, signal));
    this.opts.logger.log('info', slot.info.id, `agent ready: pid ${outcome.pid}, ${count(outcome.workers, 'worker')}, ${slot.info.address}`);
    const member = slot.info;
    if (this.onReady) this.onReady(member);
    else this.heldProgress.push(() => this.onReady?.(member));
    if (this.events) this.events.up(member);
    else this.readyEarly.push(member);
  }

  private onExit(slot: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.child !== child) return;
    slot.child = undefined;
    const how = signal ? `signal ${signal}` : `code ${code}`;
    this.events?.down(slot.info, `its process exited with ${how}`);
    if (this.stopping || slot.removing) return;
    if (slot.held) {
      removeAgentFiles(slot.paths);
      this.opts.logger.log('info', slot.info.id, `agent pid ${slot.info.pid} stopped (${how}); held: not restarted until uncordoned`);
      return;
    }
    removeAgentFiles(slot.paths);
    this.opts.logger.log('warn', slot.info.id, `agent pid ${slot.info.pid} exited with ${how}`);
    this.scheduleRestart(slot, how);
  }

  /** The first restart in a row is at once; then the delay doubles up to the cap (like workers). */
  private scheduleRestart(slot: Slot, why: string): void {
    if (Date.now() - slot.startedAt >= DEFAULTS.restartResetMs) slot.crashStreak = 0;
    slot.crashStreak++;
    const delay = slot.crashStreak <= 1 ? 0 : Math.min(DEFAULTS.restartBackoffMaxMs, DEFAULTS.restartBackoffMs * 2 ** (slot.crashStreak - 2));
    this.opts.logger.log('info', slot.info.id, `restarting in ${delay} ms (${why}; crash ${slot.crashStreak} in a row)`);
    slot.respawn = setTimeout(() => {
      slot.respawn = undefined;
      if (this.stopping || slot.removing) return;
      slot.info = { ...slot.info, restarts: slot.info.restarts + 1 };
      void this.launch(slot, false).catch((err: Error) => this.opts.logger.log('error', slot.info.id, err.message));
    }, delay);
  }

  /** Stops a slot's agent (SIGTERM: it finishes its calls and stops its workers), then forgets it. */
  private async remove(slot: Slot): Promise<void> {
    slot.removing = true;
    clearTimeout(slot.respawn);
    const { child, startTime } = slot;
    if (child?.pid !== undefined && startTime !== undefined && isAlive(child.pid, startTime)) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => void stopDaemon(child.pid!, startTime), DEFAULTS.daemonStopTimeoutMs);
      await exited;
      clearTimeout(timer);
    }
    removeAgentFiles(slot.paths);
    this.slots.delete(slot.n);
    if (!this.stopping) this.events?.gone?.(slot.info);
  }
}

/** An agent in a sub-home that is not our child (left by a router that died): stop it. */
async function stopStranger(paths: HomePaths, pid: number, startTime: number): Promise<void> {
  const result = await stopDaemon(pid, startTime);
  if (result !== 'gone') removeAgentFiles(paths);
}
