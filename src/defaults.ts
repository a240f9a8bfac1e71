// Every tunable of Snakepit has exactly one default, here, with its meaning. Options are checked
// and defaulted once at the public boundary (startAgent, the CLI); the engine trusts them.
import { availableParallelism } from 'node:os';

export const DEFAULTS = {
  /** Workers per pool (`--workers`): one per CPU. */
  workers: availableParallelism(),
  /**
   * Most workers one pool may have (config, --workers, `scale N`): a typo such as `scale 100000`
   * would otherwise start Python processes until the host runs out of memory.
   */
  maxWorkers: 1_024,
  /** Concurrent calls per worker (`--threads`); more than 1 needs a module declared thread safe. */
  threads: 1,
  /** Largest frame or payload accepted from a worker or a client, in bytes (`PAYLOAD_TOO_LARGE`). */
  maxPayloadBytes: 64 * 1024 * 1024,
  /** Calls waiting for a free worker before new ones fail with `QUEUE_FULL`. */
  maxQueue: 1000,
  /** How long a call may wait in the queue before it fails with `QUEUE_TIMEOUT`, ms. */
  queueTimeoutMs: 10_000,
  /** How long a worker may take from spawn to its ready frame before it counts as failed, ms. */
  workerStartTimeoutMs: 30_000,
  /**
   * A worker not ready within workerStartTimeoutMs is asked for its Python stacks (SIGUSR1) and
   * gets this long to print them before it is killed, ms: its start failure then says where it
   * hangs (e.g. the line of the tools module stuck on import).
   */
  stackDumpWaitMs: 500,
  /** Graceful stop: time for in-flight calls to finish before workers get SIGTERM, ms. */
  stopGraceMs: 5_000,
  /** After SIGTERM, time before a worker's process group gets SIGKILL, ms. */
  killGraceMs: 2_000,
  /** Restart delay after the second crash in a row (the first restarts at once); doubles per further crash, ms. */
  restartBackoffMs: 100,
  /** Cap of the restart delay, ms. */
  restartBackoffMaxMs: 10_000,
  /** A worker up this long has its crash count reset, ms. */
  restartResetMs: 60_000,
  /** Consecutive crashes during startup after which a pool is marked degraded. */
  maxStartupFailures: 5,
  /** A session without calls for this long forgets its worker, ms. */
  sessionTtlMs: 60 * 60 * 1000,
  /** Most sessions remembered per pool; the least recently used is forgotten first. */
  maxSessions: 100_000,
  /** How calls of a session find their worker: `hint`, `strict-queue` or `strict-fail-fast`. */
  affinity: 'hint' as 'hint' | 'strict-queue' | 'strict-fail-fast',
  /** How the agent talks to its workers: `pipe` (framed pipes) or `grpc` (a grpcio server per worker). */
  workerTransport: 'pipe' as 'pipe' | 'grpc',
  /** Workers spawned at once while a pool starts (large pools start in batches), count. */
  startBatch: 8,
  /**
   * Calls sent ahead to a busy worker when no worker is free; they wait inside the worker instead
   * of in the agent's queue, which saves a round trip per call under load. Free workers are always
   * used first. 0 = strictly one call per worker at a time.
   */
  pipeline: 8,
  /**
   * Times a call goes back to the queue because the worker it waited in (pipelined) died before
   * starting it. Such a call never ran, so requeueing it is always safe; the bound only stops a
   * call from circling forever while workers keep dying.
   */
  maxRequeues: 10,
  /** Interval of worker heartbeats (PING), ms. */
  heartbeatMs: 2_000,
  /** Heartbeats missed in a row before a worker is killed and replaced. */
  heartbeatMisses: 3,
  /** A tool still running this long after its call was cancelled gets its worker recycled, ms. */
  cancelGraceMs: 2_000,
  /** Recycle a worker after this many calls (0 = never). */
  maxRequests: 0,
  /** Recycle a worker after this long, ms (0 = never). */
  ttlMs: 0,
  /** Recycle a worker whose Python process uses more resident memory than this, MiB (0 = never). */
  maxRssMb: 0,
  /** Random extra fraction of maxRequests / ttlMs per worker, so workers do not recycle together. */
  recycleJitter: 0.1,
  /** Interval of the stats snapshots a WatchEvents stream (the dashboard) receives, ms. */
  watchIntervalMs: 1_000,
  /** Latencies kept for the p50/p99 in stats (a sliding window of the most recent calls). */
  latencyWindow: 2048,
  /**
   * Node flags of the detached daemon. A 1 MiB young generation measured 67 → 62 MiB of agent RSS
   * with 4 workers and no loss of throughput (override with SNAKEPIT_DAEMON_NODE_FLAGS).
   */
  daemonNodeFlags: '--max-semi-space-size=1',
  /**
   * How long `snakepit up` waits for the daemon to be ready beyond its pools' start budget (the
   * slowest pool's waves of `startBatch` workers × `workerStartTimeoutMs`), ms; then it stops the
   * daemon (`SNAKEPIT_DAEMON_READY_TIMEOUT_MS` overrides).
   */
  daemonReadyTimeoutMs: 30_000,
  /** How long `snakepit down` waits for the agent process to exit, ms. */
  daemonStopTimeoutMs: 20_000,
  /**
   * How long `up` / `down` wait for the home lock while another `up` or `down` on the same home
   * holds it (its holder is bounded by its own timeouts; a dead holder's lock is broken), ms.
   */
  homeLockWaitMs: 300_000,
  /**
   * How a worker's descendants are contained so cleanup finds every one (`SNAKEPIT_CONTAINMENT`):
   * `auto` (a cgroup v2 per worker, else cgroup v1 `pids`, else a child subreaper), or one of
   * `cgroup2`, `cgroup1`, `subreaper` (a cgroup kind the machine does not allow falls back to the
   * subreaper).
   */
  containment: 'auto' as 'auto' | 'cgroup2' | 'cgroup1' | 'subreaper',
  /**
   * Where process facts (start time, group, session, uid, RSS, environment, open files) are read
   * (`SNAKEPIT_PROC_FACTS`): `auto` (Linux's /proc where mounted, else `ps` and `lsof`), `proc`
   * or `ps`. Every process of one home must use the same: start times of the two differ in unit.
   */
  procFacts: 'auto' as 'auto' | 'proc' | 'ps',
  /** Longest wait for one `ps` or `lsof` call of the ps source of process facts, ms. */
  procFactsTimeoutMs: 2_000,
  /** `doctor cleanup` and `up`: after SIGTERM, time orphans of dead runs get before SIGKILL, ms. */
  cleanupGraceMs: 2_000,
  /** Bytes of a log file before it is rotated (kept: one `.1` file). */
  logMaxBytes: 10 * 1024 * 1024,
  /**
   * Bytes of `logs/crash.log` (the daemon's own stdout/stderr: crash traces, fatal errors) above
   * which `up` moves it to `crash.log.1` before starting a daemon. Never rotated under a running one.
   */
  crashLogMaxBytes: 1024 * 1024,
  /** Lines `snakepit logs` prints (the most recent ones) unless `--lines` says otherwise. */
  logLines: 50,
  /** Interface `up --metrics-port` serves /metrics on (`--metrics-host`): local only by default. */
  metricsHost: '127.0.0.1',
  /** Lines of a failed worker's stderr kept to explain a startup failure. */
  stderrTailLines: 40,
  /** Longest tool name a call may carry, bytes (`INVALID_ARGUMENTS` above it). */
  maxToolNameBytes: 256,
  /** Longest session id a call may carry, bytes (`INVALID_ARGUMENTS` above it): sessions are remembered per pool. */
  maxSessionIdBytes: 256,
  /** Longest call timeout, ms: 2^31 - 1 (~24.8 days), the longest a Node timer can wait (`INVALID_ARGUMENTS` above it). */
  maxTimeoutMs: 2_147_483_647,
  /**
   * Reply bytes an Agent API connection may leave unread before the agent holds back: it stops
   * reading new calls from that connection, and a streaming call producing more chunks fails
   * with `SLOW_CONSUMER` (its tool is cancelled). A connection more than one whole
   * `maxPayloadBytes` above this is closed.
   */
  replyBufferBytes: 8 * 1024 * 1024,
  /** Bytes a WatchEvents stream may leave unread; past it events are dropped (counted in a `lagged` update) and stats coalesced. */
  watchBufferBytes: 256 * 1024,
  /** Updates a client-side watch iterator holds for a consumer that does not pull; past it, the same lagged rule. */
  watchQueueUpdates: 1_000,
  /**
   * Bytes of partly received messages the local lane holds across all its connections. A message
   * is admitted whole (its length is in its prefix): one that does not fit waits, its connection
   * paused, until others complete. Never below the largest message allowed.
   */
  inboundBufferBytes: 256 * 1024 * 1024,
  /** A partly received message that makes no progress for this long closes its connection, ms. */
  stalledMessageMs: 30_000,
  /** Bounds of a WatchEvents stream's snapshot interval, ms (a peer's value is clamped into them). */
  watchIntervalMinMs: 50,
  watchIntervalMaxMs: 60_000,
  /**
   * How long a client waits for an agent (or router) to answer a new connection (TLS handshake
   * and the HTTP/2 SETTINGS frame) before its calls fail with AGENT_UNAVAILABLE, ms: a peer that
   * accepts and then says nothing never hangs a command. Calls themselves may take longer.
   */
  connectTimeoutMs: 10_000,
  /** `up --watch`: quiet time after the last change of a watched file before the reload, ms (editors save in bursts). */
  watchDebounceMs: 300,
  /**
   * Longest line of a worker's stdout / stderr logged as one record, bytes. A longer line (a `\r`
   * progress bar never ends one) is cut and continues in the next record, so printing costs the
   * agent linear time and bounded memory.
   */
  logLineMaxBytes: 16 * 1024,
  // ── cluster ──
  // Defaults of the router (src/cluster/): fixed here, not pool settings.
  /** Interval at which each agent pushes a heartbeat (with its load) to the routers, ms. */
  clusterHeartbeatMs: 200,
  /** How long the router waits for a joining agent's first heartbeat before it joins anyway (as starting), ms. */
  clusterFirstBeatWaitMs: 2_000,
  /**
   * How long a router's start waits for a joining agent to describe itself (its tools and pools),
   * ms: an address that accepts connections and never answers (a hostile or hung peer in etcd)
   * cannot hold the router's start; it gets calls once it answers.
   */
  clusterDescribeWaitMs: 3_000,
  /** Phi at or above which the failure detector says an agent is down: routing to it stops. */
  phiThreshold: 8,
  /** Phi at or above which an agent is suspect: it is used only when no alive agent can take the call. */
  phiSuspectThreshold: 3,
  /** Heartbeat intervals the failure detector keeps (the most recent ones): 40 s at 200 ms. */
  phiWindowSize: 200,
  /** Lowest standard deviation the failure detector assumes, ms: a perfectly steady history must not make a few ms of delay look fatal. */
  phiMinStdDevMs: 100,
  /** Silence the failure detector tolerates on top of the mean interval (a GC pause, a busy host), ms. */
  phiAcceptablePauseMs: 500,
  /** Sliding window over which an agent's circuit breaker counts calls, ms. */
  breakerWindowMs: 10_000,
  /** Calls in the window below which the breaker never opens (too few to judge). */
  breakerMinCalls: 20,
  /** Fraction of the window's calls failed for agent-caused reasons at which the breaker opens. */
  breakerFailureRatio: 0.5,
  /** How long an open breaker refuses calls before it lets one probe call through (half-open), ms. */
  breakerOpenMs: 5_000,
  /** Attempts of one call in all, the first included (the router's retries). */
  retryMaxAttempts: 3,
  /** Backoff before the first retry (full jitter: a random delay below it), doubling per retry, ms. */
  retryBackoffMs: 50,
  /** Cap of the retry backoff, ms. */
  retryBackoffMaxMs: 1_000,
  /** Tokens of the retry budget (gRPC's retry throttling): each failed attempt takes 1; retries only while more than half are left. */
  retryBudgetTokens: 10,
  /** Tokens a successful attempt gives back to the retry budget: ~this fraction of extra load at most while failing. */
  retryBudgetRatio: 0.1,
  // ── registry (etcd membership across hosts) ──
  /**
   * TTL of an agent's lease in etcd, ms (etcd counts whole seconds: rounded up). The agent renews it
   * every third of the TTL; an agent that stops renewing (SIGKILLed, cut off) has its key removed
   * by etcd this long after its last renewal, and routers then forget it.
   */
  registryLeaseTtlMs: 10_000,
  /**
   * Longest one call to etcd may take, retries included, ms. Also how long an agent or router
   * keeps trying an unreachable etcd at start before it fails with `REGISTRY_UNAVAILABLE`.
   */
  registryTimeoutMs: 5_000,
  /** First delay before reconnecting to a lost etcd (jittered, doubling per failed try), ms. */
  registryRetryMs: 200,
  /** Cap of the reconnect delay to a lost etcd, ms. */
  registryRetryMaxMs: 5_000,
  /** Interval of gRPC keepalive pings on a quiet etcd connection: a silently cut link is noticed within it plus registryTimeoutMs, ms (etcd refuses pings more often than every 5 s). */
  registryKeepaliveMs: 10_000,
  /** Largest value at an agent's key a router accepts, bytes; a larger one is ignored (and an agent's own entry may not exceed it). */
  registryValueMaxBytes: 16 * 1024,
  // ── TCP and TLS ──
  /** Shortest cluster token accepted, characters (printable ASCII): `openssl rand -hex 32` makes 64. */
  tokenMinBytes: 16,
  /** Largest token file read, bytes. */
  tokenFileMaxBytes: 4096,
  /** Largest PEM file (certificate, CA bundle, key) read, bytes. */
  pemFileMaxBytes: 1024 * 1024,
  /** Validity of the CA `snakepit certs init` makes, days. */
  certCaDays: 3650,
  /** Validity of a certificate `snakepit certs issue` makes, days. */
  certDays: 825,
} as const;

/** Environment variables read by Snakepit. */
export const ENV = {
  home: 'SNAKEPIT_HOME',
  python: 'SNAKEPIT_PYTHON',
  configDir: 'SNAKEPIT_CONFIG_DIR',
  /** Overrides DEFAULTS.logMaxBytes for the daemon's log file (read by src/daemon/run.ts). */
  logMaxBytes: 'SNAKEPIT_LOG_MAX_BYTES',
  /** Overrides DEFAULTS.containment (read by src/agent/containment.ts). */
  containment: 'SNAKEPIT_CONTAINMENT',
  /** Overrides DEFAULTS.procFacts (read by src/proc.ts). */
  procFacts: 'SNAKEPIT_PROC_FACTS',
  /** Overrides DEFAULTS.daemonReadyTimeoutMs (read by `snakepit up`). */
  daemonReadyTimeoutMs: 'SNAKEPIT_DAEMON_READY_TIMEOUT_MS',
  // Clients reaching an agent over TCP (flags --address, --token-file, --tls-ca, --tls-cert, --tls-key override them).
  /** Agent address(es), `HOST:PORT[,…]`, used when neither --address nor --home is given. */
  address: 'SNAKEPIT_ADDRESS',
  /** The cluster token's file: clients send it; `up --listen` requires it. */
  tokenFile: 'SNAKEPIT_TOKEN_FILE',
  /** CA certificate(s) a client verifies the agent's certificate with. */
  tlsCa: 'SNAKEPIT_TLS_CA',
  /** A client's certificate and key, for agents that require them (mTLS). */
  tlsCert: 'SNAKEPIT_TLS_CERT',
  tlsKey: 'SNAKEPIT_TLS_KEY',
} as const;

/**
 * Variables of a client's security settings: a daemon gets what they say through its options and
 * strips them from its own environment, so workers (user code) never see where the token is.
 */
export const CLIENT_SECURITY_ENV = [ENV.address, ENV.tokenFile, ENV.tlsCa, ENV.tlsCert, ENV.tlsKey] as const;

/** `env` without CLIENT_SECURITY_ENV (what a daemon and its workers inherit). */
export function withoutClientSecurityEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  const out = { ...env };
  for (const name of CLIENT_SECURITY_ENV) delete out[name];
  return out;
}
