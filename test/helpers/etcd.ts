// A real etcd for a test: /usr/bin/etcd (or SNAKEPIT_TEST_ETCD) on free loopback ports with a
// temporary data dir, one member; with `tls`, its client URL serves TLS and requires a client
// certificate signed by the given CA. It can be stopped (SIGTERM, then SIGKILL by pid), killed, and
// restarted on the same ports and data dir (or a wiped one). `cleanup()` stops it and removes the
// directory; a test process that dies first still SIGKILLs it (by pid) on exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { freePort, tempDir } from './env.js';

export const ETCD_BINARY = process.env.SNAKEPIT_TEST_ETCD ?? '/usr/bin/etcd';

export interface EtcdServer {
  /** `127.0.0.1:PORT` of its client URL. */
  endpoint: string;
  /** `etcd://127.0.0.1:PORT`, as `--registry` takes it. */
  url: string;
  dataDir: string;
  pid(): number | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL; resolves once it exited. */
  kill(): Promise<void>;
  /** Starts it again on the same ports (and data dir unless `wipe`), waits until healthy. */
  restart(opts?: { wipe?: boolean }): Promise<void>;
  /** Its log so far (for failure messages). */
  log(): string;
  cleanup(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) if (child.pid !== undefined) try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
});

export interface EtcdTls {
  cert: string;
  key: string;
  /** The CA client certificates must be signed by. */
  ca: string;
  /** A client certificate (and key) the health check presents. */
  clientCert: string;
  clientKey: string;
}

/** GET /health over TLS with a client certificate (fetch cannot present one). */
function tlsHealthy(url: string, tls: EtcdTls): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${url}/health`, { ca: readFileSync(tls.ca), cert: readFileSync(tls.clientCert), key: readFileSync(tls.clientKey), timeout: 1_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(res.statusCode === 200 && body.includes('"health":"true"')));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** `hosts`: more addresses its client port listens on besides loopback (a test namespace's link). */
export async function startEtcd(opts: { tls?: EtcdTls; hosts?: string[] } = {}): Promise<EtcdServer> {
  const dir = tempDir('sp-etcd-');
  const dataDir = join(dir.path, 'data');
  const logFile = join(dir.path, 'etcd.log');
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const tls = opts.tls;
  const client = `${tls ? 'https' : 'http'}://127.0.0.1:${clientPort}`;
  const clients = [client, ...(opts.hosts ?? []).map((h) => `${tls ? 'https' : 'http'}://${h}:${clientPort}`)].join(',');
  const peer = `http://127.0.0.1:${peerPort}`;
  let child: ChildProcess | undefined;

  const exited = (c: ChildProcess): Promise<void> => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', () => r())));

  const launch = async (): Promise<void> => {
    const out = openSync(logFile, 'a');
    const c = spawn(
      ETCD_BINARY,
      [
        '--name', 'test',
        '--data-dir', dataDir,
        '--listen-client-urls', clients,
        '--advertise-client-urls', client,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', `test=${peer}`,
        '--initial-cluster-state', 'new',
        ...(tls ? ['--cert-file', tls.cert, '--key-file', tls.key, '--trusted-ca-file', tls.ca, '--client-cert-auth'] : []),
        // Tests ping every second (registryKeepaliveMs) to notice a silent link: allow it.
        '--grpc-keepalive-min-time', '500ms',
        '--logger', 'zap',
        '--log-level', 'warn',
      ],
      { stdio: ['ignore', out, out] },
    );
    closeSync(out);
    child = c;
    live.add(c);
    c.once('exit', () => live.delete(c));
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`etcd exited at start (${c.exitCode ?? c.signalCode}); log:\n${readLog()}`);
      if (tls) {
        if (await tlsHealthy(client, tls)) return;
      } else {
        try {
          const res = await fetch(`${client}/health`, { signal: AbortSignal.timeout(1_000) });
          if (res.ok && ((await res.json()) as { health?: string }).health === 'true') return;
        } catch {
          /* not up yet */
        }
      }
      if (Date.now() > deadline) throw new Error(`etcd not healthy within 15 s; log:\n${readLog()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const readLog = (): string => {
    try {
      return readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n');
    } catch {
      return '(no log)';
    }
  };

  const signal = async (sig: NodeJS.Signals, graceMs: number): Promise<void> => {
    const c = child;
    if (!c || c.pid === undefined) return;
    const done = exited(c);
    try {
      process.kill(c.pid, sig);
    } catch {
      /* gone */
    }
    const timer = setTimeout(() => {
      try {
        process.kill(c.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, graceMs);
    await done;
    clearTimeout(timer);
    child = undefined;
  };

  try {
    await launch();
  } catch (err) {
    await signal('SIGKILL', 0);
    dir.cleanup();
    throw err;
  }

  return {
    endpoint: `127.0.0.1:${clientPort}`,
    url: `etcd://127.0.0.1:${clientPort}`,
    dataDir,
    pid: () => child?.pid,
    stop: (graceMs = 3_000) => signal('SIGTERM', graceMs),
    kill: () => signal('SIGKILL', 0),
    restart: async (opts = {}) => {
      await signal('SIGTERM', 3_000);
      if (opts.wipe) rmSync(dataDir, { recursive: true, force: true });
      await launch();
    },
    log: readLog,
    cleanup: async () => {
      await signal('SIGTERM', 2_000);
      dir.cleanup();
    },
  };
}
