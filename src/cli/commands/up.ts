// `snakepit up`: start an agent for a home. Detached by default: the daemon is spawned with its
// output in the home's crash file and its options on a private pipe (fd 4, never argv), and we
// wait for its ready line on another (fd 3), so `up` returns only once workers serve calls, or
// fails with the reason (e.g. a worker's traceback). If the daemon stays silent longer than its
// pools can take to start, it is stopped (verified pid, then its process group), never left behind.
// The whole start runs under the home lock: a concurrent `up` waits, then reports the agent this
// one started and exits 0; a concurrent `down` waits, then stops it.
// Before starting, it kills what the home's process registry proves a dead agent left behind.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { networkInterfaces } from 'node:os';
import { TRANSPORT_TEXT, planListen, type TcpOptions } from '../../security/listen.js';
import { loadServerSecurity } from '../../security/server-files.js';
import { loadClientSecurity, type ClientSecurityFiles } from '../../security/client.js';
import { isLoopbackHost, parseHostPort } from '../../security/addresses.js';
import { parseAgentLabels } from '../args.js';
import { DEFAULTS, ENV } from '../../defaults.js';
import { SnakepitError } from '../../errors.js';
import { CONFIG_FILE, resolvePools } from '../../agent/options.js';
import type { PoolOptions } from '../../agent/pool.js';
import { agentState, ensureHome, homePaths, isAlive, lockHome, removeAgentFiles, resolveHome, type HomePaths } from '../../daemon/home.js';
import { crashTail, spawnDaemon, stopDaemon, tail } from '../../daemon/spawn.js';
import type { Announcement, DaemonOptions, FailedMessage, PoolSourceSpec, ReadyMessage } from '../../daemon/run.js';
import type { CommandResult, Io } from '../output.js';
import { count } from '../../text.js';
import { networkSetting, runSettings, settingsDifferences, type RunSettings } from '../../agent/settings.js';

export interface UpOptions {
  home?: string;
  config?: string;
  tools?: string;
  workers?: number;
  threads?: number;
  workerTransport?: 'pipe' | 'grpc';
  python?: string;
  foreground?: boolean;
  /** Serve Prometheus metrics on this port (0 / absent: off) and interface. */
  metricsPort?: number;
  metricsHost?: string;
  json?: boolean;
  /** `cluster up`: a router over this many agents, each running the pools. */
  agents?: number;
  /** An agent with other settings runs: drain it, then start this one. */
  replace?: boolean;
  /** Reload when the config or a tools file changes. */
  watch?: boolean;
  /** The TCP listener (`--listen` and its companions; src/security/listen.ts). */
  listen?: string;
  advertise?: string;
  labels?: string;
  tokenFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  insecureTransport?: boolean;
  /** Membership in etcd: an agent registers there; a router (`router`) reads its agents from it. */
  registry?: string;
  registryCa?: string;
  registryCert?: string;
  registryKey?: string;
  /** The agent's lease TTL in etcd, ms (default DEFAULTS.registryLeaseTtlMs). */
  registryTtl?: number;
  /** `snakepit router up`: a router over the agents in etcd (no pools, no Python on this host). */
  router?: boolean;
  /** `router up`: the CA the agents' certificates chain to (default: the system's). */
  tlsCa?: string;
}

export async function upCommand(opts: UpOptions, io: Io): Promise<CommandResult> {
  // Flags and files of the TCP listener first: a refusal leaves nothing behind, not even a home.
  const { tcp, labels, warnings } = listenOptions(opts);
  const checked = await registryOptions(opts, !!tcp);
  const registry = checked?.registry;
  if (checked?.warning) warnings.push(checked.warning);
  const routerFiles = registry && opts.router ? routerClient(opts) : undefined;
  const home = resolveHome(opts.home);
  const paths = homePaths(home);
  ensureHome(paths);
  const cwd = process.cwd();
  // Project config: --config, else snakepit.config.json in the current directory if present.
  // Resolved before taking the lock, so a bad config fails at once.
  const config = opts.config ?? (existsSync(join(cwd, CONFIG_FILE)) ? CONFIG_FILE : undefined);
  const source: PoolSourceSpec = {
    options: {
      ...(config ? { config } : {}),
      ...(opts.tools ? { tools: opts.tools } : {}),
      ...(opts.workers ? { workers: opts.workers } : {}),
      ...(opts.threads ? { threads: opts.threads } : {}),
      ...(opts.workerTransport ? { workerTransport: opts.workerTransport } : {}),
      ...(opts.python ? { python: opts.python } : {}),
    },
    cwd,
  };
  // A router host needs no Python: its agents run the tools.
  const pools = opts.router ? [] : await resolvePools(source.options, cwd);
  const asked = runSettings(pools, { metricsPort: opts.metricsPort, agents: opts.agents, network: networkSetting({ tcp, labels }) });
  // Already running with these settings: answer at once (read-only, no lock needed); anything
  // else is decided under the lock.
  if (agentState(paths).state === 'running') {
    const early = await runningAgent(paths, 0, asked, opts, true);
    if (early) return early;
  }
  const agentWait = readyWaitMs(pools, envReadyTimeout());
  // A cluster's agents start in parallel: the router waits for them, `up` for the router.
  const readyWait = opts.agents ? agentWait + DEFAULTS.daemonReadyTimeoutMs : agentWait;
  const release = await lockHome(paths, 'up', (line) => io.stderr(`${line}\n`));
  let releaseNow = true;
  try {
    const running = await runningAgent(paths, readyWait, asked, opts);
    if (running) return running;
    const state = agentState(paths);
    if (state.state === 'stale') {
      removeAgentFiles(paths);
      io.stderr(`removed stale state of a dead agent${state.pid ? ` (pid ${state.pid})` : ''} in ${home}\n`);
    }
    await cleanupBeforeStart(home, io);
    const daemonOpts: DaemonOptions = {
      home,
      pools,
      source,
      ...(opts.watch ? { watch: true } : {}),
      ...(opts.metricsPort ? { metricsPort: opts.metricsPort, ...(opts.metricsHost ? { metricsHost: opts.metricsHost } : {}) } : {}),
      ...(opts.agents ? { cluster: { agents: opts.agents, readyWaitMs: agentWait } } : {}),
      ...(tcp ? { tcp } : {}),
      ...(labels ? { labels } : {}),
      ...(warnings.length ? { warnings } : {}),
      ...(registry && !opts.router ? { registry } : {}),
      ...(registry && routerFiles ? { router: { registry, client: routerFiles } } : {}),
    };
    for (const w of warnings) io.stderr(`warning: ${w}\n`);
    if (opts.foreground) {
      releaseNow = false; // released as soon as the agent is ready: it may run for days
      return await foreground(daemonOpts, opts, io, release);
    }
    return await detached(paths, daemonOpts, pools, readyWait, io);
  } finally {
    if (releaseNow) release();
  }
}

/**
 * The agent that already serves the home, as `up`'s answer, or undefined. One that is still
 * starting (its `up` died and left it) is waited for, up to `waitMs`.
 */
async function runningAgent(paths: HomePaths, waitMs: number, asked: RunSettings, opts: UpOptions, early = false): Promise<CommandResult | undefined> {
  const deadline = Date.now() + waitMs;
  for (let s = agentState(paths); ; s = agentState(paths)) {
    if (s.state === 'running') {
      const i = s.info;
      // An agent of an older version records no settings: it is taken as the same, as before.
      const differences = i.settings ? settingsDifferences(i.settings, asked) : [];
      if (differences.length > 0) {
        if (early) return undefined; // decided under the home lock
        if (opts.replace) {
          await replaceAgent(paths, i.pid, i.startTime);
          return undefined;
        }
        const home = opts.home ? ` --home ${paths.home}` : '';
        throw new SnakepitError(
          'ALREADY_RUNNING',
          `an agent with other settings is already running for ${paths.home} (pid ${i.pid}):\n${differences.map((d) => `  - ${d}`).join('\n')}\n` +
            `fix: \`snakepit ${opts.agents ? 'cluster up' : 'up'} --replace${home}\` (drains the running agent, then starts this one), or another home (--home DIR)`,
        );
      }
      const address = i.network?.listen ?? i.address;
      return {
        json: { ok: true, alreadyRunning: true, pid: i.pid, address, ...(i.network ? { socket: i.address, advertise: i.network.advertise } : {}), workers: i.workers, runId: i.runId, ...(i.warnings?.length ? { warnings: i.warnings } : {}) },
        text: `an agent is already running for ${paths.home} (pid ${i.pid}, ${count(i.workers, 'worker')}, ${address}); nothing to do${(i.warnings ?? []).map((w) => `\nwarning: ${w}`).join('')}`,
      };
    }
    if (s.state !== 'starting') return undefined;
    if (Date.now() > deadline) throw new SnakepitError('AGENT_UNAVAILABLE', `an agent for ${paths.home} (pid ${s.pid}) has been starting for over ${waitMs} ms; see its log, or stop it with \`snakepit down\``);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * How long `up` waits for the daemon's ready line: the time its slowest pool may take to start
 * (its workers start in waves of `startBatch`, each wave allowed `workerStartTimeoutMs`) plus
 * `extraMs` for everything else. Always longer than a pool's own start limit, so a pool that
 * cannot start reports its own reason before `up` gives up.
 */
export function readyWaitMs(pools: ReadonlyArray<Pick<PoolOptions, 'size' | 'startBatch' | 'workerStartTimeoutMs'>>, extraMs: number): number {
  const budget = Math.max(0, ...pools.map((p) => Math.ceil(p.size / Math.max(1, p.startBatch)) * p.workerStartTimeoutMs));
  return budget + extraMs;
}

/** SNAKEPIT_DAEMON_READY_TIMEOUT_MS (a positive integer), else DEFAULTS.daemonReadyTimeoutMs. */
function envReadyTimeout(): number {
  const raw = process.env[ENV.daemonReadyTimeoutMs];
  if (raw === undefined || raw === '') return DEFAULTS.daemonReadyTimeoutMs;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new SnakepitError('CONFIG_INVALID', `invalid setting '${ENV.daemonReadyTimeoutMs}': expected a positive integer (ms), got ${JSON.stringify(raw)}`);
  return Number(raw);
}

async function detached(paths: HomePaths, daemonOpts: DaemonOptions, pools: PoolOptions[], readyWait: number, io: Io): Promise<CommandResult> {
  const workers = pools.reduce((n, p) => n + p.size, 0);
  const agents = daemonOpts.cluster?.agents;
  if (daemonOpts.router) io.stderr(`starting a router for ${paths.home} over the agents in etcd…\n`);
  else io.stderr(agents ? `starting a cluster for ${paths.home}: a router and ${count(agents, 'agent')} of ${count(workers, 'worker')}…\n` : `starting agent for ${paths.home} (${count(workers, 'worker')}${pools.length > 1 ? ` in ${pools.length} pools` : ''})…\n`);
  const spawned = await spawnDaemon(paths, daemonOpts, readyWait, (line) => io.stderr(`  ${line}\n`));
  const { child, startTime, crashFrom, outcome: msg } = spawned;
  child.unref();
  if (msg === 'timeout') {
    const stopped = child.pid !== undefined && startTime !== undefined ? await stopDaemon(child.pid, startTime) : 'gone';
    removeAgentFiles(paths);
    await cleanupBeforeStart(paths.home, io);
    const what = stopped === 'gone' ? 'it had exited meanwhile' : stopped === 'killed' ? `stopped it (pid ${child.pid}, SIGKILL to its process group)` : `stopped it (pid ${child.pid}, SIGTERM)`;
    throw new SnakepitError('TIMEOUT', `the agent did not report ready within ${readyWait} ms (its pools' start budget plus ${ENV.daemonReadyTimeoutMs}); ${what}. Last lines of ${paths.logFile}:\n${tail(paths.logFile, 20)}${crashTail(paths, crashFrom)}`);
  }
  if (!msg) {
    throw new SnakepitError('WORKER_START_FAILED', `the agent exited during startup; last lines of ${paths.logFile}:\n${tail(paths.logFile, 20)}${crashTail(paths, crashFrom)}`);
  }
  if (!msg.ok) {
    if (msg.error.code === 'ALREADY_RUNNING') return { json: { ok: true, alreadyRunning: true }, text: msg.error.message };
    throw SnakepitError.from({ ...msg.error, message: `${msg.error.message}\n(log: ${paths.logFile})` });
  }
  return {
    json: { ok: true, pid: msg.pid, ...addressFields(msg, daemonOpts), workers: msg.workers, runId: msg.runId, ...(agents ? { agents } : {}), ...(msg.metrics ? { metrics: msg.metrics } : {}) },
    text: `${daemonOpts.router ? `router started: pid ${msg.pid}, ${count(msg.workers, 'call slot')} on the agents in etcd` : agents ? `cluster started: router pid ${msg.pid}, ${count(agents, 'agent')}, ${count(msg.workers, 'worker')} in all` : `agent started: pid ${msg.pid}, ${count(msg.workers, 'worker')}`}, listening on ${listening(msg)}\nlogs: ${msg.logFile}${msg.metrics ? `\nmetrics: ${msg.metrics}` : ''}`,
  };
}

async function foreground(daemonOpts: DaemonOptions, opts: UpOptions, io: Io, releaseLock: () => void): Promise<CommandResult> {
  const { runDaemon } = await import('../../daemon/run.js');
  let failure: FailedMessage | undefined;
  let code: number;
  try {
    code = await runDaemon({ ...daemonOpts, echoLogs: !opts.json }, (msg) => announced(msg));
  } finally {
    releaseLock();
  }
  if (failure) throw SnakepitError.from(failure.error);
  return { json: null, text: '', exitCode: code };

  function announced(msg: Announcement): void {
    if ('progress' in msg) return; // the log lines on stderr already show each worker
    releaseLock(); // ready or failed: the start is over
    if (!msg.ok) {
      failure = msg;
      return;
    }
    if (opts.json) io.stdout(`${JSON.stringify({ ok: true, pid: msg.pid, ...addressFields(msg, daemonOpts), workers: msg.workers, runId: msg.runId, ...(msg.metrics ? { metrics: msg.metrics } : {}) })}\n`);
    else io.stderr(`agent ready: pid ${msg.pid}, ${count(msg.workers, 'worker')}, listening on ${listening(msg)}${msg.metrics ? `, metrics on ${msg.metrics}` : ''} (Ctrl-C stops it)\n`);
  }
}

/**
 * The TCP listener, labels and warnings `up` is asked for, checked (flags, then the files:
 * token, certificate, key) before anything starts; the daemon reads the files again itself.
 */
function listenOptions(opts: UpOptions): { tcp: TcpOptions | undefined; labels: Record<string, string> | undefined; warnings: string[] } {
  const abs = (f: string | undefined): string | undefined => (f ? resolve(f) : undefined);
  const plan = planListen(
    {
      listen: opts.listen,
      advertise: opts.advertise,
      tokenFile: abs(opts.tokenFile ?? (process.env[ENV.tokenFile] || undefined)),
      tlsCert: abs(opts.tlsCert),
      tlsKey: abs(opts.tlsKey),
      tlsClientCa: abs(opts.tlsClientCa),
      insecureTransport: opts.insecureTransport,
      router: opts.router,
    },
    networkInterfaces(),
  );
  if (plan) loadServerSecurity(plan.tcp);
  const labels = opts.labels !== undefined ? parseAgentLabels([opts.labels], '--labels') : undefined;
  return { tcp: plan?.tcp, labels: labels && Object.keys(labels).length ? labels : undefined, warnings: plan?.warnings ?? [] };
}

/**
 * `--registry` and its TLS files, checked before anything starts (paths made absolute: the
 * daemon reads them again itself). An agent must also listen on TCP: routers dial what it
 * advertises there. A router must have the registry.
 */
async function registryOptions(opts: UpOptions, listening: boolean): Promise<{ registry: NonNullable<DaemonOptions['registry']>; warning?: string } | undefined> {
  if (!opts.registry) {
    if (opts.router) throw new SnakepitError('USAGE', '`snakepit router up` needs --registry etcd://HOST:PORT[,…]: the etcd its agents register in');
    if (opts.registryCa || opts.registryCert || opts.registryKey || opts.registryTtl) throw new SnakepitError('USAGE', '--registry-ca, --registry-cert, --registry-key and --registry-ttl go with --registry etcd://HOST:PORT');
    return undefined;
  }
  if (opts.agents) throw new SnakepitError('USAGE', '--registry is for an agent (`snakepit up`) or a router (`snakepit router up`), not for a local cluster');
  if (!opts.router && !listening) throw new SnakepitError('USAGE', '--registry needs --listen HOST:PORT (and --token-file): routers on other hosts dial the address the agent advertises there');
  const abs = (f: string | undefined): string | undefined => (f ? resolve(f) : undefined);
  const spec = { url: opts.registry, ca: abs(opts.registryCa), cert: abs(opts.registryCert), key: abs(opts.registryKey) };
  // etcd3 is loaded only here (an agent without --registry never pays for it).
  const parsed = (await import('../../cluster/etcd.js')).parseRegistry(spec);
  const warning = registryWarning(parsed);
  return { registry: { ...spec, ...(opts.registryTtl ? { leaseTtlMs: opts.registryTtl } : {}) }, ...(warning ? { warning } : {}) };
}

/**
 * The warning for a registry reached in plaintext off loopback (pure): whoever can write the
 * membership steers the calls, and on an open path anyone can.
 */
export function registryWarning(registry: { endpoints: string[]; tls: unknown }): string | undefined {
  const remote = registry.endpoints.filter((e) => !isLoopbackHost(parseHostPort(e, '--registry').host));
  if (registry.tls || remote.length === 0) return undefined;
  return `the registry (${remote.join(', ')}) is reached in plaintext off loopback: anyone on the path can read and rewrite the membership, and so steer calls; serve etcd with TLS and client certificates (--registry-ca, --registry-cert, --registry-key)`;
}

/**
 * How a router dials its agents: the cluster token, their CA, and its own certificate for mTLS
 * agents. The router sends the token to every address registered in etcd, and whoever can write
 * to etcd can register any address: so it trusts only the cluster's CA (--tls-ca), never the
 * system's roots (any host with a publicly signed certificate would get the token) nor plaintext
 * to loopback (any local process on a loopback port would), unless --insecure-transport says so.
 */
function routerClient(opts: UpOptions): ClientSecurityFiles {
  const tokenFile = opts.tokenFile ?? (process.env[ENV.tokenFile] || undefined);
  if (!tokenFile) throw new SnakepitError('USAGE', '`snakepit router up` needs --token-file FILE (or SNAKEPIT_TOKEN_FILE): the cluster token its agents require');
  const tlsCa = opts.tlsCa ?? (process.env[ENV.tlsCa] || undefined);
  if (!tlsCa && !opts.insecureTransport) {
    throw new SnakepitError(
      'USAGE',
      "`snakepit router up` needs --tls-ca FILE (or SNAKEPIT_TLS_CA): the CA the agents' certificates chain to (the ca.crt of `snakepit certs init`). The router sends the cluster token to every address registered in etcd, so it trusts your cluster's CA only, not the system's; or --insecure-transport to dial the agents in plaintext, token in clear text (a trusted network only)",
    );
  }
  const abs = (f: string | undefined): string | undefined => (f ? resolve(f) : undefined);
  const files: ClientSecurityFiles = { tokenFile: abs(tokenFile), tlsCa: abs(tlsCa), tlsCert: abs(opts.tlsCert), tlsKey: abs(opts.tlsKey), insecureTransport: opts.insecureTransport };
  loadClientSecurity(files);
  return files;
}

/** `up`'s address fields: the TCP listener's when there is one (the home's socket beside it), else the socket. */
function addressFields(msg: ReadyMessage, daemonOpts: DaemonOptions): Record<string, unknown> {
  if (!msg.network) return { address: msg.address };
  return { address: msg.network.listen, advertise: msg.network.advertise, transport: msg.network.transport, socket: msg.address, ...(daemonOpts.labels ? { labels: daemonOpts.labels } : {}), ...(daemonOpts.warnings?.length ? { warnings: daemonOpts.warnings } : {}) };
}

function listening(msg: ReadyMessage): string {
  return msg.network ? `${msg.network.listen} (${TRANSPORT_TEXT[msg.network.transport]}, token required; advertised as ${msg.network.advertise}) and ${msg.address}` : msg.address;
}

/** Kills orphans of dead runs recorded in the home's registry; says so on stderr, never fails `up`. */
async function cleanupBeforeStart(home: string, io: Io): Promise<void> {
  const { cleanupOrphans } = await import('../../daemon/cleanup.js');
  try {
    const r = await cleanupOrphans(home);
    for (const o of r.killed) io.stderr(`killed orphan pid ${o.pid} of dead run ${o.runId}: ${o.cmdline.join(' ')}\n`);
    for (const o of r.survived) io.stderr(`warning: orphan pid ${o.pid} of dead run ${o.runId} survived SIGKILL: ${o.cmdline.join(' ')}\n`);
  } catch (err) {
    io.stderr(`warning: could not clean up orphans of dead runs (${(err as Error).message}); see \`snakepit doctor\`\n`);
  }
}

/** `up --replace`: drain the running agent (its calls finish; new ones get DRAINING), wait until it is gone. */
async function replaceAgent(paths: HomePaths, pid: number, startTime: number): Promise<void> {
  const { connect } = await import('../../api/client.js');
  const client = connect({ home: paths.home });
  try {
    await client.drain();
  } finally {
    client.close();
  }
  const deadline = Date.now() + DEFAULTS.daemonStopTimeoutMs;
  while (isAlive(pid, startTime)) {
    if (Date.now() > deadline) {
      await stopDaemon(pid, startTime);
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  removeAgentFiles(paths);
}
