// The agent daemon: one Agent plus its gRPC server on the home's unix socket. Used both by the
// detached process that `snakepit up` spawns and by `snakepit up --foreground`. It announces
// readiness (or the reason it failed) on fd 3 when its parent asked for it, writes its pid and
// agent.json, and removes them when it stops. Every worker it starts is recorded in the home's
// process registry before readiness is announced, so a successor can clean up after a crash.
// It runs under the home lock its `up` holds while it starts, and it removes only the files it
// created itself: a daemon that fails to start never deletes another agent's socket or files.
import { chmodSync, closeSync, rmSync, writeSync, fstatSync } from 'node:fs';
import { Agent, newAgentId } from '../agent/agent.js';
import { probeContainment } from '../agent/containment.js';
import { ProcessRegistry } from '../agent/registry.js';
import type { AgentLogger } from '../agent/log.js';
import type { DeferredLogger, LocalMembership } from '../cluster/local-membership.js';
import type { PoolOptions } from '../agent/pool.js';
import type { AgentApi, AgentEvent, AgentStats, ToolInfo } from '../api/agent-api.js';
import type { AgentAbout, AgentServer, ServerHooks } from '../api/server.js';
import { networkInterfaces } from 'node:os';
import type { ServerSecurity } from '../security/server-files.js';
import { TRANSPORT_TEXT, type TcpOptions } from '../security/listen.js';
import { advertiseAddress, formatHostPort, parseHostPort } from '../security/addresses.js';
import type { LocalLane } from '../api/local-lane.js';
import { MESSAGE_SLACK_BYTES } from '../api/grpc-frame.js';
import { DEFAULTS, ENV } from '../defaults.js';
import { SnakepitError } from '../errors.js';
import { VERSION } from '../paths.js';
import { reapOwnRun } from './cleanup.js';
import type { MetricsServer } from '../metrics/server.js';
import { LogFile, jsonFileLogger } from './log-file.js';
import { agentState, ensureHome, homeAgentId, homePaths, processStartTime, releasePidFile, writeFileAtomic, writePidFile, type AgentInfo, type HomePaths } from './home.js';
import { count } from '../text.js';
import { networkSetting, runSettings } from '../agent/settings.js';
import type { AgentOptions } from '../agent/options.js';
import type { RegistryOptions } from '../cluster/etcd.js';
import type { EtcdRegistration } from '../cluster/etcd-registration.js';
import type { ClientSecurityFiles } from '../security/client.js';

export interface DaemonOptions {
  home: string;
  /** Fully resolved pools (validated and defaulted by the caller, so errors surface before spawning). */
  pools: PoolOptions[];
  /** Also print log lines on stderr (foreground mode). */
  echoLogs?: boolean;
  /** Serve Prometheus metrics at GET /metrics on this port (0 or absent: off). */
  metricsPort?: number;
  /** Interface of the metrics server (default DEFAULTS.metricsHost). */
  metricsHost?: string;
  /** Log file size before rotation (default: SNAKEPIT_LOG_MAX_BYTES, else DEFAULTS.logMaxBytes). */
  logMaxBytes?: number;
  /** The id for a home that has none yet (a router names its agents); default: host and random. */
  agentId?: string;
  /** Stop when the process that spawned this one is gone (an agent of a local cluster and its router). */
  exitWithParent?: boolean;
  /**
   * Run a router over a local cluster instead of an agent: it starts `agents` agent daemons (each
   * with `pools`) in sub-homes and serves them as one (src/cluster/router.ts).
   */
  cluster?: { agents: number; labels?: Record<string, string>; readyWaitMs: number };
  /**
   * Also serve the Agent API on TCP (`up --listen`), with the token and TLS of these files (read
   * by the daemon itself: the token never travels in its options). Checked by `up` (planListen).
   */
  tcp?: TcpOptions;
  /** Its labels (`up --labels`): in agent.json and stats. */
  labels?: Record<string, string>;
  /** What `up` warned about (e.g. plaintext off loopback): kept in agent.json and stats. */
  warnings?: string[];
  /**
   * Register in etcd (`up --registry`): the advertised TCP address under a lease, its state kept
   * current, the lease revoked on a clean stop. Files are read by the daemon.
   */
  registry?: RegistryOptions & { leaseTtlMs?: number };
  /**
   * Run a router over the agents registered in etcd (`snakepit router up`) instead of an agent,
   * dialing them with this client security (the cluster token, the CA their certificates chain to).
   */
  router?: { registry: RegistryOptions; client: ClientSecurityFiles };
  /** What `up` resolved `pools` from: a reload reads it again (the config file re-read). */
  source?: PoolSourceSpec;
  /** Reload when the config or a tools file changes (`up --watch`). */
  watch?: boolean;
}

/** The inputs of resolvePools, as `up` got them (paths relative to `cwd`). */
export interface PoolSourceSpec {
  options: Pick<AgentOptions, 'config' | 'tools' | 'workers' | 'threads' | 'workerTransport' | 'python'>;
  cwd: string;
}

/** Where a daemon serves the Agent API on TCP (agent.json, stats, `up`'s answer). */
export type NetworkInfo = NonNullable<AgentStats['agent']['network']>;

export interface ReadyMessage {
  ok: true;
  pid: number;
  address: string;
  workers: number;
  runId: string;
  logFile: string;
  /** The metrics URL when `metricsPort` was given. */
  metrics?: string;
  /** The TCP listener (`tcp` option): bound address, advertised address, transport. */
  network?: NetworkInfo;
  /** An agent of a local cluster: what its router would otherwise ask for first (ListTools, Stats). */
  tools?: ToolInfo[];
  pools?: Array<{ name: string; affinity: string }>;
}

/** Sent while starting, before the final ready or failed message (`up` prints it on stderr). */
export interface ProgressMessage {
  progress: string;
}

export type Announcement = ReadyMessage | FailedMessage | ProgressMessage;

export interface FailedMessage {
  ok: false;
  error: { code: string; message: string };
}

/** A router's agents, started before the daemon loaded (see prelaunchCluster). */
export interface EarlyCluster {
  membership: LocalMembership;
  logger: DeferredLogger;
}

/**
 * Runs the daemon until it is stopped. `announce` receives progress, then the ready or failure
 * message. `early`: a router's agents, already starting.
 */
export async function runDaemon(opts: DaemonOptions, announce: (msg: Announcement) => void, early?: EarlyCluster): Promise<number> {
  const paths = homePaths(opts.home);
  ensureHome(paths);
  const logMaxBytes = opts.logMaxBytes ?? envLogMaxBytes();
  if (typeof logMaxBytes === 'string') {
    announce({ ok: false, error: { code: 'CONFIG_INVALID', message: logMaxBytes } });
    return 1;
  }
  const logFile = new LogFile(paths.logFile, logMaxBytes);
  const logger: AgentLogger = jsonFileLogger(logFile, opts.echoLogs ? (line) => process.stderr.write(line) : undefined);

  const existing = agentState(paths);
  if (existing.state === 'running' || existing.state === 'starting') {
    const pid = existing.state === 'running' ? existing.info.pid : existing.pid;
    announce({ ok: false, error: { code: 'ALREADY_RUNNING', message: `an agent already runs for home ${paths.home} (pid ${pid})` } });
    logFile.close();
    return 0;
  }
  /** Files this daemon made; the only ones it removes when it stops (or fails to start). */
  const created = new Set<string>();
  const removeCreated = (): void => {
    releasePidFile();
    for (const f of created) rmSync(f, { force: true });
    created.clear();
  };
  writePidFile(paths);
  created.add(paths.pidFile);

  let served: Served | undefined;
  let server: AgentServer | undefined;
  let tcpServer: AgentServer | undefined;
  let registration: EtcdRegistration | undefined;
  let about: AgentAbout | undefined = opts.labels || opts.warnings?.length ? { ...(opts.labels ? { labels: opts.labels } : {}), ...(opts.warnings?.length ? { warnings: opts.warnings } : {}) } : undefined;
  let lane: LocalLane | undefined;
  let metrics: MetricsServer | undefined;
  let unwatch: (() => void) | undefined;
  let stopping: Promise<void> | undefined;
  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((r) => (resolveExit = r));

  const stop = (why: string): Promise<void> => {
    stopping ??= (async () => {
      logger.log('info', 'daemon', `stopping (${why})`);
      unwatch?.();
      // Out of etcd first: routers drop the agent at once instead of at its lease's expiry.
      await registration?.stop();
      await served?.stop();
      await lane?.close();
      await tcpServer?.close();
      await server?.close();
      await metrics?.close();
      removeCreated();
      logger.log('info', 'daemon', 'stopped');
      logFile.close();
      resolveExit(0);
    })();
    return stopping;
  };
  const onSignal = (sig: NodeJS.Signals): void => void stop(sig);
  if (opts.exitWithParent) watchParent(() => void stop('the process that started it is gone'));
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', onSignal);

  try {
    // The TCP listener's files are read (and proven) before any worker starts: a bad token file fails `up` at once.
    const security = opts.tcp ? (await import('../security/server-files.js')).loadServerSecurity(opts.tcp) : undefined;
    // Workers (or a router's agents) start first; loading the gRPC server (grpc-js: ~100 ms) then
    // overlaps with their start instead of coming before it.
    const starting = opts.cluster
      ? startRouter(opts, opts.cluster, paths, logger, announce, early)
      : opts.router
        ? startEtcdRouter(opts.router, paths, logger, announce)
        : startAgentServed(opts, paths, logger, announce, (m) => (metrics = m));
    starting.catch(() => undefined); // awaited below; a failure meanwhile is not unhandled
    const [{ serveAgent }, { serveLocalLane }] = await Promise.all([import('../api/server.js'), import('../api/local-lane.js')]);
    const live = await starting;
    served = live;
    const address = `unix:${paths.socket}`;
    const maxPayloadBytes = opts.pools.length ? Math.max(...opts.pools.map((p) => p.maxPayloadBytes)) : DEFAULTS.maxPayloadBytes;
    const hooks = { onShutdown: () => void stop('Shutdown request'), about: () => about };
    server = await serveAgent(served.api, address, hooks, maxPayloadBytes);
    created.add(paths.socket);
    chmodSync(paths.socket, 0o600);
    lane = await serveLocalLane(served.api, paths.lane, maxPayloadBytes + MESSAGE_SLACK_BYTES);
    created.add(paths.lane);
    let network: NetworkInfo | undefined;
    if (opts.tcp && security) {
      ({ server: tcpServer, network } = await listenTcp(served.api, opts.tcp, security, hooks, maxPayloadBytes));
      about = { ...about, network };
      logger.log('info', 'daemon', `Agent API on TCP ${network.listen} (${TRANSPORT_TEXT[network.transport]}; token required), advertised as ${network.advertise}`);
      for (const w of opts.warnings ?? []) logger.log('warn', 'daemon', w);
    }
    const info = (): AgentInfo => ({
      id: live.api.id,
      ...(opts.cluster || opts.router ? { kind: 'router' as const } : {}),
      pid: process.pid,
      startTime: processStartTime(process.pid) ?? 0,
      version: VERSION,
      runId: live.runId,
      address,
      workers: live.workers(),
      workerPids: live.workerPids(),
      startedAt: new Date(live.startedAt).toISOString(),
      logFile: paths.logFile,
      pools: live.pools().map((p) => ({ name: p.name, workers: p.size, python: p.spec.python, tools: p.spec.tools ?? null })),
      containment: probeContainment().detail,
      ...(live.agents ? { agents: live.agents() } : {}),
      settings: runSettings(live.configured(), { metricsPort: opts.metricsPort, agents: opts.cluster?.agents, network: networkSetting(opts) }),
      ...about,
    });
    served.ready?.();
    writeFileAtomic(paths.infoFile, JSON.stringify(info(), null, 2));
    created.add(paths.infoFile);
    // A reload or scale changed the pools: agent.json says what runs now (`up` compares with it).
    if (opts.registry && !opts.cluster && !opts.router) registration = await register(opts.registry, live, network, opts.labels ?? {}, logger);
    served.onChanged?.(() => {
      if (stopping) return;
      writeFileAtomic(paths.infoFile, JSON.stringify(info(), null, 2));
      registration?.update({ capacity: capacityOf(live.pools()) });
    });
    if (opts.watch) unwatch = await watchSources(opts, served.api, logger);
    logger.log('info', 'daemon', `listening on ${address}`);
    // An agent of a local cluster tells its router its tools and pools at once: the router need
    // not ask before it routes there (one round of RPCs less on `cluster up`'s critical path).
    const described = opts.exitWithParent && !opts.cluster ? { tools: await served.api.tools(), pools: opts.pools.map((p) => ({ name: p.name, affinity: p.affinity })) } : {};
    announce({ ok: true, pid: process.pid, address, workers: served.workers(), runId: served.runId, logFile: paths.logFile, ...(metrics ? { metrics: metrics.url } : {}), ...(network ? { network } : {}), ...described });
  } catch (err) {
    unwatch?.();
    const e = err instanceof SnakepitError ? err : new SnakepitError('INTERNAL', (err as Error).message);
    logger.log('error', 'daemon', `failed to start: ${e.message}`);
    // Clean up before answering, so the caller never sees files of an agent that is gone.
    await stop('startup failed');
    announce({ ok: false, error: { code: e.toJSON().code, message: e.message } });
    return 1;
  }
  const code = await exited;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  process.off('SIGHUP', onSignal);
  return code;
}

/** What a daemon serves on its home's sockets: an agent, or a router over a local cluster. */
interface Served {
  api: AgentApi;
  runId: string;
  startedAt: number;
  workers(): number;
  workerPids(): number[];
  /** The pools as they run now (sizes as scaled). */
  pools(): PoolOptions[];
  /** The pools as configured (the source's last read): the settings `up` compares. */
  configured(): PoolOptions[];
  /** Who to tell when a reload or scale changed the pools. */
  onChanged?(changed: () => void): void;
  /** The agent's events (an agent, not a router). */
  onEvent?(listener: (e: AgentEvent) => void): void;
  /** The router's agents, for agent.json. */
  agents?(): Array<{ id: string; home?: string; address?: string; pid: number | undefined }>;
  /** Called once everything is listening (the registry writes before readiness is announced). */
  ready?(): void;
  stop(): Promise<void>;
}

/** An agent with its process registry, started (its workers ready). */
async function startAgentServed(opts: DaemonOptions, paths: HomePaths, logger: AgentLogger, announce: (msg: Announcement) => void, onMetrics: (m: MetricsServer) => void): Promise<Served> {
  const agent = new Agent(opts.pools, logger, undefined, homeAgentId(paths, () => opts.agentId ?? newAgentId()));
  const source = opts.source;
  if (source) {
    const { resolvePools } = await import('../agent/options.js');
    agent.configure({ source: () => resolvePools(source.options, source.cwd) });
  }
  const registry = new ProcessRegistry(paths.registryFile, agent.runId, (err) => logger.log('error', 'registry', err.message));
  registry.attach(agent);
  const served: Served = {
    api: agent,
    runId: agent.runId,
    startedAt: agent.startedAt,
    workers: () => agent.poolOptions().reduce((n, p) => n + p.size, 0),
    workerPids: () => agent.workerPids(),
    pools: () => agent.poolOptions(),
    configured: () => agent.configuredPools(),
    onChanged: (changed) => agent.configure({ changed }),
    onEvent: (listener) => void agent.onEvent(listener),
    ready: () => registry.flush(),
    async stop() {
      await agent.stop();
      // A worker that exited on SHUTDOWN may leave a tool's children in its process group.
      const reaped = await reapOwnRun(registry.runId, registry.snapshot(), Math.max(...opts.pools.map((p) => p.killGraceMs)));
      for (const o of reaped) logger.log('warn', 'daemon', `killed pid ${o.pid} (${o.cmdline.join(' ')}) left behind by worker ${o.worker}`);
      registry.remove();
    },
  };
  const workers = served.workers();
  const describe = opts.pools.map((p) => `pool ${p.name}: ${count(p.size, 'worker')}, python ${p.spec.python}, tools ${p.spec.tools ?? 'snakepit.demo (built-in)'}`).join('; ');
  logger.log('info', 'daemon', `snakepit ${VERSION} starting: pid ${process.pid}, home ${paths.home}; ${describe}; containment: ${probeContainment().detail}`);
  if (opts.metricsPort) {
    // Before the workers start: a busy port fails `up` at once, and no event is missed.
    const { serveMetrics } = await import('../metrics/server.js');
    const metrics = await serveMetrics(agent, opts.metricsPort, opts.metricsHost ?? DEFAULTS.metricsHost);
    onMetrics(metrics);
    logger.log('info', 'daemon', `metrics on ${metrics.url}`);
  }
  let ready = 0;
  const progress = agent.onEvent((e) => {
    if (e.type === 'worker.ready') announce({ progress: `worker ${e.worker} ready (pid ${e.pid}, ${e.startupMs} ms) — ${++ready}/${workers}` });
  });
  try {
    await agent.start();
  } catch (err) {
    await served.stop();
    throw err;
  } finally {
    progress();
  }
  return served;
}

/** A router over a local cluster of `cluster.agents` agent daemons, all of them ready. */
async function startRouter(opts: DaemonOptions, cluster: NonNullable<DaemonOptions['cluster']>, paths: HomePaths, logger: AgentLogger, announce: (msg: Announcement) => void, early: EarlyCluster | undefined): Promise<Served> {
  const { clusterMembership } = await import('../cluster/local-membership.js');
  const { Router } = await import('../cluster/router.js');
  early?.logger.attach(logger);
  const membership = early?.membership ?? clusterMembership({ ...opts, cluster }, logger);
  const router = new Router({ id: homeAgentId(paths, () => `router-${newAgentId()}`), membership, logger });
  logger.log('info', 'daemon', `snakepit ${VERSION} router starting: pid ${process.pid}, home ${paths.home}; ${count(cluster.agents, 'agent')} of ${count(opts.pools.reduce((n, p) => n + p.size, 0), 'worker')} each`);
  const perAgent = opts.pools.reduce((n, p) => n + p.size, 0);
  let ready = 0;
  membership.listen(
    (line) => announce({ progress: line }),
    (m) => announce({ progress: `agent ${m.id} ready (pid ${m.pid}) — ${++ready}/${cluster.agents}` }),
  );
  try {
    await router.start();
  } catch (err) {
    await router.shutdown();
    throw err;
  }
  return {
    api: router,
    runId: router.runId,
    startedAt: router.startedAt,
    workers: () => membership.members().length * perAgent,
    workerPids: () => membership.members().flatMap((m) => m.workerPids),
    pools: () => opts.pools,
    configured: () => opts.pools,
    agents: () => membership.members().map((m) => ({ id: m.id, home: m.home, pid: m.pid })),
    stop: () => router.shutdown(),
  };
}

/**
 * `up --watch`: reloads `api` (an agent, or a router: one agent at a time) when the config or a
 * tools file changes. A reload that fails (an invalid config, new code that cannot start) is
 * logged; the running workers keep serving.
 */
async function watchSources(opts: DaemonOptions, api: AgentApi, logger: AgentLogger): Promise<() => void> {
  const { watchFiles } = await import('./watch-files.js');
  const { resolve } = await import('node:path');
  const config = opts.source?.options.config !== undefined ? resolve(opts.source.cwd, opts.source.options.config) : undefined;
  const tools = [...new Set(opts.pools.map((p) => p.spec.tools).filter((t): t is string => !!t))];
  logger.log('info', 'daemon', `watching ${[config, ...tools].filter(Boolean).join(', ') || 'nothing (built-in tools, no config)'} for changes`);
  return watchFiles(
    { config, tools },
    DEFAULTS.watchDebounceMs,
    async (why) => {
      logger.log('info', 'daemon', `${why}: reloading`);
      try {
        const r = await api.reload();
        logger.log('info', 'daemon', `reloaded after a change: ${count(r.replaced, 'worker')} replaced${r.changes.length ? `; ${r.changes.join('; ')}` : ''}`);
      } catch (err) {
        logger.log('error', 'daemon', `reload after a change failed, the running workers keep serving: ${(err as Error).message}`);
      }
    },
    (message) => logger.log('warn', 'daemon', message),
  );
}

/** Slots for calls: workers × threads over the pools. */
function capacityOf(pools: readonly PoolOptions[]): number {
  return pools.reduce((n, p) => n + p.size * p.spec.threads, 0);
}

/**
 * Writes the agent into etcd under a lease (fails the start with REGISTRY_UNAVAILABLE when etcd
 * cannot be reached) and keeps its state there current: draining and stopping agents say so.
 */
async function register(registry: NonNullable<DaemonOptions['registry']>, live: Served, network: NetworkInfo | undefined, labels: Record<string, string>, logger: AgentLogger): Promise<EtcdRegistration> {
  if (!network) throw new SnakepitError('CONFIG_INVALID', '--registry needs --listen HOST:PORT: routers on other hosts dial the address the agent advertises there');
  const [{ parseRegistry }, { EtcdRegistration }] = await Promise.all([import('../cluster/etcd.js'), import('../cluster/etcd-registration.js')]);
  const registration = new EtcdRegistration({
    registry: parseRegistry(registry),
    agent: { id: live.api.id, address: network.advertise, capacity: capacityOf(live.pools()), labels, state: 'serving' },
    logger,
    ...(registry.leaseTtlMs ? { leaseTtlMs: registry.leaseTtlMs } : {}),
  });
  await registration.start();
  live.onEvent?.((e) => {
    if (e.type === 'agent.draining') registration.setState('draining');
    else if (e.type === 'agent.stopping') registration.setState('stopping');
  });
  logger.log('info', 'daemon', `registered in etcd as ${registration.key} (address ${network.advertise})`);
  return registration;
}

/** A router over the agents registered in etcd (`snakepit router up`); it starts once etcd answered. */
async function startEtcdRouter(router: NonNullable<DaemonOptions['router']>, paths: HomePaths, logger: AgentLogger, announce: (msg: Announcement) => void): Promise<Served> {
  const [{ parseRegistry }, { EtcdMembership }, { Router }, { loadClientSecurity }] = await Promise.all([
    import('../cluster/etcd.js'),
    import('../cluster/etcd-membership.js'),
    import('../cluster/router.js'),
    import('../security/client.js'),
  ]);
  const registry = parseRegistry(router.registry);
  const membership = new EtcdMembership({ registry, logger });
  const r = new Router({ id: homeAgentId(paths, () => `router-${newAgentId()}`), membership, logger, security: loadClientSecurity(router.client) });
  logger.log('info', 'daemon', `snakepit ${VERSION} router starting: pid ${process.pid}, home ${paths.home}; agents from etcd ${registry.endpoints.join(',')}`);
  announce({ progress: `reading the agents registered in etcd (${registry.endpoints.join(', ')})` });
  try {
    await r.start();
  } catch (err) {
    await r.shutdown();
    throw err;
  }
  announce({ progress: `${count(membership.members().length, 'agent')} registered` });
  return {
    api: r,
    runId: r.runId,
    startedAt: r.startedAt,
    workers: () => membership.members().reduce((n, m) => n + m.capacity, 0),
    workerPids: () => [],
    pools: () => [],
    configured: () => [],
    agents: () => membership.members().map((m) => ({ id: m.id, address: m.address, pid: m.pid })),
    stop: () => r.shutdown(),
  };
}

/** Binds the TCP listener (after the home's socket: local clients never wait for it). */
async function listenTcp(api: AgentApi, tcp: TcpOptions, security: ServerSecurity, hooks: ServerHooks, maxPayloadBytes: number): Promise<{ server: AgentServer; network: NetworkInfo }> {
  const { serveAgent } = await import('../api/server.js');
  const listen = parseHostPort(tcp.listen, '--listen');
  let server: AgentServer;
  try {
    server = await serveAgent(api, formatHostPort(listen), hooks, maxPayloadBytes, { security });
  } catch (err) {
    throw new SnakepitError('CONFIG_INVALID', `cannot listen on ${tcp.listen} (--listen): ${(err as Error).message}`);
  }
  try {
    const advertise = advertiseAddress(listen, server.port, tcp.advertise ? parseHostPort(tcp.advertise, '--advertise') : undefined, networkInterfaces());
    const transport = security.tls ? (security.tls.clientCa ? 'mtls' : 'tls') : 'insecure';
    return { server, network: { listen: formatHostPort({ host: listen.host, port: server.port }), advertise, transport } };
  } catch (err) {
    await server.close();
    throw err;
  }
}

/** SNAKEPIT_LOG_MAX_BYTES (a positive integer), else the default; a bad value is the error message. */
function envLogMaxBytes(): number | string {
  const raw = process.env[ENV.logMaxBytes];
  if (raw === undefined || raw === '') return DEFAULTS.logMaxBytes;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) return `invalid setting '${ENV.logMaxBytes}': expected a positive integer (bytes), got ${JSON.stringify(raw)}`;
  return Number(raw);
}

let announcing = true;

/**
 * Writes one JSON line to fd 3 if the parent opened it for us (detached mode); the final ready
 * or failed message closes it.
 */
export function announceOnFd3(msg: Announcement): void {
  if (!announcing) return;
  try {
    fstatSync(3);
  } catch {
    announcing = false;
    return;
  }
  try {
    writeSync(3, `${JSON.stringify(msg)}\n`);
    if (!('progress' in msg)) {
      announcing = false;
      closeSync(3);
    }
  } catch {
    announcing = false; // parent gone: nothing to tell
  }
}

/** Calls `gone` once this process's parent is gone (it is re-parented then), checked twice a second. */
export function watchParent(gone: () => void): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    gone();
  }, 500);
  timer.unref();
}
