// The registry of a cluster across hosts: etcd, reached with the `etcd3` client. This module is
// what agents and routers share: the `--registry` URL and TLS files turned into a checked config,
// the client built with bounded calls, and the link state both report (`ok` / `degraded`).
//
// The client's fault handling (cockatiel policies, given to etcd3):
// - every unary call has a gRPC deadline of `registryTimeoutMs`, and the whole call, retries
//   included, is cut at that time too (an aggressive timeout around the retry): a call to a dead
//   etcd fails in bounded time instead of etcd3's default of retrying without a deadline;
// - a recoverable failure (unavailable, deadline) is retried once per endpoint, after a short
//   jittered backoff, each retry on another endpoint;
// - no per-endpoint circuit breaker: etcd3's default one refuses an endpoint for 5 s after three
//   failures, which would keep us away from an etcd that is back; our own reconnect loops
//   (registration, membership) already back off;
// - the gRPC channel reconnects with `registryRetryMs` … `registryRetryMaxMs` (grpc-js's own
//   default grows to 120 s) and pings a quiet connection every `registryKeepaliveMs`, so a link cut
//   without a reset is noticed.
import { Etcd3, isRecoverableError, type IOptions } from 'etcd3';
import { ExponentialBackoff, handleWhen, noop, retry, timeout, TimeoutStrategy, wrap, type IBackoff } from 'cockatiel';
import { DEFAULTS } from '../defaults.js';
import { SnakepitError } from '../errors.js';
import { formatHostPort, parseHostPort } from './host-port.js';
import { readTrustedFile, type FileRule } from '../security/trusted-file.js';

/** `--registry` and the TLS files, as given. */
export interface RegistryOptions {
  /** `etcd://HOST:PORT[,HOST:PORT…]`, or `etcds://…` for TLS with the system's CAs. */
  url: string;
  /** PEM file of the CA that signed etcd's certificate (`--registry-ca`); implies TLS. */
  ca?: string | undefined;
  /** PEM files of a client certificate and its key, for an etcd that requires them (`--registry-cert`, `--registry-key`); imply TLS. */
  cert?: string | undefined;
  key?: string | undefined;
}

/** A registry to connect to, checked. */
export interface RegistryConfig {
  /** `HOST:PORT` of each etcd endpoint, in the order given. */
  endpoints: string[];
  /** TLS to etcd (null: plaintext). A CA absent: the system's. */
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } | null;
}

/** Tunables of the client (each defaults to its DEFAULTS.registry* value). */
export interface RegistryTimings {
  timeoutMs?: number;
  retryMs?: number;
  retryMaxMs?: number;
  keepaliveMs?: number;
}

const SCHEMES = { 'etcd://': false, 'etcds://': true } as const;

/**
 * The endpoints and TLS choice of a registry URL. `etcd://` is plaintext unless TLS files are
 * given (`parseRegistry` decides); `etcds://` is TLS. Bad input is CONFIG_INVALID naming the problem.
 */
export function parseRegistryUrl(url: string): { endpoints: string[]; tls: boolean } {
  const bad = (why: string): SnakepitError =>
    new SnakepitError('CONFIG_INVALID', `invalid --registry '${url.slice(0, 200)}': ${why}; expected etcd://HOST:PORT[,HOST:PORT…] (etcds:// for TLS), e.g. etcd://10.0.0.5:2379`);
  const text = url.trim();
  const scheme = (Object.keys(SCHEMES) as Array<keyof typeof SCHEMES>).find((s) => text.toLowerCase().startsWith(s));
  if (!scheme) {
    const given = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text)?.[1];
    throw bad(given ? `the scheme '${given}://' is not etcd:// or etcds://` : 'it does not start with etcd:// or etcds://');
  }
  const rest = text.slice(scheme.length).replace(/\/$/, '');
  if (rest === '') throw bad('it names no endpoint');
  if (/[/?#@\s]/.test(rest)) throw bad(`'${rest}' has a path, query, user name or space: only HOST:PORT endpoints separated by commas`);
  const endpoints: string[] = [];
  for (const part of rest.split(',')) {
    const hp = parseHostPort(part);
    if (typeof hp === 'string') throw bad(`endpoint ${hp}`);
    const ep = formatHostPort(hp);
    if (endpoints.includes(ep)) throw bad(`the endpoint ${ep} is named twice`);
    endpoints.push(ep);
  }
  return { endpoints, tls: SCHEMES[scheme] };
}

/**
 * Reads a registry TLS file under the trust rules of the cluster's other secrets and
 * certificates (security/trusted-file.ts): a FIFO or a device is refused without blocking, the
 * size is capped before reading, and the client key must be private.
 */
export type RegistryFileReader = (path: string, rule: FileRule, what: string) => Buffer;

const readRegistryFile: RegistryFileReader = (path, rule, what) => readTrustedFile(path, rule, what, DEFAULTS.pemFileMaxBytes);

/** A registry config from `--registry` and the TLS files (read here; a file that cannot be used is CONFIG_INVALID, FILE_ERROR or FILE_UNSAFE naming it). */
export function parseRegistry(opts: RegistryOptions, read: RegistryFileReader = readRegistryFile): RegistryConfig {
  const { endpoints, tls } = parseRegistryUrl(opts.url);
  if (Boolean(opts.cert) !== Boolean(opts.key)) {
    throw new SnakepitError('CONFIG_INVALID', `${opts.cert ? '--registry-cert needs --registry-key' : '--registry-key needs --registry-cert'}: a client certificate for etcd goes with its private key`);
  }
  if (!tls && !opts.ca && !opts.cert) return { endpoints, tls: null };
  const files: NonNullable<RegistryConfig['tls']> = {};
  if (opts.ca) files.ca = pem(read, opts.ca, '--registry-ca', 'CERTIFICATE', 'public');
  if (opts.cert) files.cert = pem(read, opts.cert, '--registry-cert', 'CERTIFICATE', 'public');
  if (opts.key) files.key = pem(read, opts.key, '--registry-key', 'PRIVATE KEY', 'secret');
  return { endpoints, tls: files };
}

function pem(read: RegistryFileReader, path: string, flag: string, kind: string, rule: FileRule): Buffer {
  let data: Buffer;
  try {
    data = read(path, rule, flag);
  } catch (err) {
    if (err instanceof SnakepitError) throw err; // the trust rules' own refusal names the path and the fix
    const code = (err as NodeJS.ErrnoException).code;
    throw new SnakepitError('CONFIG_INVALID', `cannot read ${flag} ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
  }
  if (data.byteLength > DEFAULTS.pemFileMaxBytes) throw new SnakepitError('CONFIG_INVALID', `${flag} ${path} has ${data.byteLength} bytes: not a PEM file`);
  if (!new RegExp(`-----BEGIN [A-Z ]*${kind}-----`).test(data.toString('latin1'))) {
    throw new SnakepitError('CONFIG_INVALID', `${flag} ${path} is not a PEM ${kind.toLowerCase()} (no '-----BEGIN … ${kind}-----' line)`);
  }
  return data;
}

/** The etcd3 options of a registry: bounded calls, reconnect backoff, keepalive (see the top of this module). */
export function etcdOptions(config: RegistryConfig, t: RegistryTimings = {}): IOptions {
  const timeoutMs = t.timeoutMs ?? DEFAULTS.registryTimeoutMs;
  const retryMs = t.retryMs ?? DEFAULTS.registryRetryMs;
  const retryMaxMs = t.retryMaxMs ?? DEFAULTS.registryRetryMaxMs;
  const scheme = config.tls ? 'https://' : 'http://';
  const options: IOptions = {
    hosts: config.endpoints.map((e) => scheme + e),
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeoutMs }),
    grpcOptions: {
      'grpc.keepalive_time_ms': t.keepaliveMs ?? DEFAULTS.registryKeepaliveMs,
      'grpc.keepalive_timeout_ms': timeoutMs,
      'grpc.initial_reconnect_backoff_ms': retryMs,
      'grpc.max_reconnect_backoff_ms': retryMaxMs,
    },
    faultHandling: {
      host: () => noop,
      global: wrap(
        timeout(timeoutMs, TimeoutStrategy.Aggressive),
        retry(handleWhen(isRecoverableError), { maxAttempts: config.endpoints.length, backoff: new ExponentialBackoff({ initialDelay: Math.min(50, retryMs), maxDelay: retryMs }) }),
      ),
      // etcd3 types this as a backoff but uses it as a factory (its own default is `new ExponentialBackoff()`).
      watchBackoff: new ExponentialBackoff({ initialDelay: retryMs, maxDelay: retryMaxMs }) as unknown as IBackoff<unknown>,
    },
  };
  // With only client files and no CA, gRPC uses the system's CAs (a null root certificate).
  if (config.tls && (config.tls.ca || config.tls.cert)) options.credentials = { rootCertificate: config.tls.ca ?? (null as unknown as Buffer), ...(config.tls.cert ? { certChain: config.tls.cert, privateKey: config.tls.key! } : {}) };
  return options;
}

export function openEtcd(config: RegistryConfig, t: RegistryTimings = {}): Etcd3 {
  return new Etcd3(etcdOptions(config, t));
}

/** How an agent or router stands with etcd (`cluster status`, `router status`). */
export interface RegistryStatus {
  /** `degraded`: etcd is not reachable; the last view is kept (router) and serving goes on (agent). */
  state: 'ok' | 'degraded';
  endpoints: string[];
  tls: boolean;
  /** Since when (ms since the epoch) it is in this state. */
  since: number;
  /** The error that made it degraded (kept after it recovered), or null. */
  lastError: string | null;
}

/**
 * The link state to etcd, with log lines on its changes only: one line when etcd is lost, one
 * when it is back, however many calls fail in between.
 */
export class RegistryLink {
  private current: RegistryStatus;

  constructor(
    config: RegistryConfig,
    private readonly onChange: (status: RegistryStatus, previous: RegistryStatus['state']) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.current = { state: 'ok', endpoints: [...config.endpoints], tls: config.tls !== null, since: now(), lastError: null };
  }

  get status(): RegistryStatus {
    return { ...this.current, endpoints: [...this.current.endpoints] };
  }

  get ok(): boolean {
    return this.current.state === 'ok';
  }

  /** etcd failed us: degraded (reported once; later errors only update lastError). */
  lost(err: unknown): void {
    if (this.current.state === 'degraded') {
      this.current = { ...this.current, lastError: describeEtcdError(err) };
      return;
    }
    this.current = { ...this.current, state: 'degraded', since: this.now(), lastError: describeEtcdError(err) };
    this.onChange(this.status, 'ok');
  }

  /** etcd answered again. */
  back(): void {
    if (this.current.state === 'ok') return;
    this.current = { ...this.current, state: 'ok', since: this.now() };
    this.onChange(this.status, 'degraded');
  }
}

/** REGISTRY_UNAVAILABLE for a start that could not reach etcd within `waitedMs`. */
export function registryUnavailable(config: RegistryConfig, waitedMs: number, cause: unknown): SnakepitError {
  // gRPC says UNAVAILABLE for a refused connection and a failed handshake alike: name what to check.
  const hints = !config.tls
    ? ['if etcd serves TLS, give --registry-ca (or use etcds://)']
    : [
        `that it serves TLS with a certificate ${config.tls.ca ? 'the registry CA (--registry-ca)' : "one of the system's CAs (else give --registry-ca)"} signed for the address named`,
        ...(config.tls.cert ? [] : ['if etcd requires client certificates, give --registry-cert and --registry-key']),
      ];
  return new SnakepitError(
    'REGISTRY_UNAVAILABLE',
    `etcd is not reachable at ${config.endpoints.join(', ')} (tried for ${waitedMs} ms; last error: ${describeEtcdError(cause)}); check that etcd runs there, ${hints.join('; ')}; or fix --registry`,
    { cause },
  );
}

/** One line of an etcd client error (gRPC's can be long, multi-line, and end in an empty note). */
export function describeEtcdError(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const line = text.split('\n')[0]!.replace(/\s*Resolution note:\s*$/, '').trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line || 'unknown error';
}

/**
 * `attempt(msLeft)` until it succeeds or `budgetMs` is spent, with the reconnect backoff between
 * tries: what a start does, so an etcd that is restarting as an agent starts is waited for, and
 * one that is not there fails in bounded time. Rejects with the last failure.
 */
export async function retryWithin<T>(budgetMs: number, t: RegistryTimings, attempt: (msLeft: number) => Promise<T>): Promise<T> {
  const deadline = Date.now() + budgetMs;
  const backoff = new ReconnectBackoff(t);
  // The error reported is the last one that says something: a final attempt cut short by what
  // was left of the budget ("no answer within 1 ms") would hide why the earlier ones failed.
  let told: unknown;
  for (;;) {
    try {
      return await attempt(Math.max(1, deadline - Date.now()));
    } catch (err) {
      if (told === undefined || !/^no answer within \d+ ms$/.test((err as Error)?.message ?? '')) told = err;
    }
    const pause = Math.min(backoff.next(), deadline - Date.now());
    if (pause <= 0) throw told;
    await new Promise((r) => setTimeout(r, pause));
  }
}

/** `p`, or a rejection with `onTimeout()` after `ms`. */
export function withDeadline<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(onTimeout()), ms)))]).finally(() => clearTimeout(timer));
}

/** Jittered exponential delays for a reconnect loop (cockatiel's decorrelated jitter), reset on success. */
export class ReconnectBackoff {
  private backoff: IBackoff<unknown>;
  private readonly factory: ExponentialBackoff<unknown>;

  constructor(t: RegistryTimings = {}) {
    this.factory = new ExponentialBackoff({ initialDelay: t.retryMs ?? DEFAULTS.registryRetryMs, maxDelay: t.retryMaxMs ?? DEFAULTS.registryRetryMaxMs });
    this.backoff = this.factory.next();
  }

  /** The next delay, ms. */
  next(): number {
    const ms = this.backoff.duration;
    this.backoff = this.backoff.next(undefined);
    return ms;
  }

  reset(): void {
    this.backoff = this.factory.next();
  }
}
