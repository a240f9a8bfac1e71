// `up --listen`: what an agent serving the Agent API on TCP is allowed to do, decided before
// anything starts (pure; the host's interfaces are passed in). Secure by default: TCP needs the
// cluster token, and anything but loopback needs TLS unless --insecure-transport says otherwise
// in so many words (then every command that shows the agent repeats the warning).
import type { NetworkInterfaceInfo } from 'node:os';
import { SnakepitError } from '../errors.js';
import { advertiseAddress, formatHostPort, isLoopbackHost, parseHostPort } from './addresses.js';
import type { ServerSecurityFiles } from './server-files.js';

/** What `up` is asked (flags, with SNAKEPIT_TOKEN_FILE as the token file's fallback). */
export interface ListenRequest {
  listen?: string | undefined;
  advertise?: string | undefined;
  tokenFile?: string | undefined;
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  tlsClientCa?: string | undefined;
  insecureTransport?: boolean | undefined;
  /**
   * `router up`: without --listen, --tls-cert/--tls-key are still the client certificate the
   * router shows agents that require one, and --insecure-transport its plaintext to the agents.
   */
  router?: boolean | undefined;
}

/** A daemon's TCP listener, as its options carry it (paths only: the daemon reads the files). */
export interface TcpOptions extends ServerSecurityFiles {
  /** `HOST:PORT` to bind (port 0: any free one). */
  listen: string;
  /** `HOST:PORT` others dial (port 0: the bound one); default: the listen address. */
  advertise?: string | undefined;
  insecureTransport?: boolean | undefined;
}

export type Transport = 'tls' | 'mtls' | 'insecure';

/** How each transport reads in `up`, `stats` and the log. */
export const TRANSPORT_TEXT: Record<Transport, string> = { tls: 'TLS', mtls: 'TLS, client certificates required', insecure: 'plaintext' };

export interface ListenPlan {
  tcp: TcpOptions;
  transport: Transport;
  /** Said by `up`, kept in agent.json and stats, repeated by `doctor`, `stats` and `cluster status`. */
  warnings: string[];
}

const MAKE_TOKEN = 'make one with `(umask 077; openssl rand -hex 32 > FILE)`';

/** The listener `req` asks for (undefined: none), or a USAGE error naming the flag that fixes it. */
export function planListen(req: ListenRequest, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): ListenPlan | undefined {
  if (!req.listen) {
    const stray = (
      [
        ['--advertise', req.advertise],
        ['--tls-cert', !req.router && req.tlsCert],
        ['--tls-key', !req.router && req.tlsKey],
        ['--tls-client-ca', req.tlsClientCa],
        ['--insecure-transport', !req.router && req.insecureTransport],
      ] as const
    ).find(([, v]) => v);
    if (stray) throw new SnakepitError('USAGE', `${stray[0]} applies only to a TCP listener: add --listen HOST:PORT`);
    return undefined;
  }
  const listen = parseHostPort(req.listen, '--listen');
  const advertise = req.advertise ? parseHostPort(req.advertise, '--advertise') : undefined;
  const shown = formatHostPort(listen);
  if (!req.tokenFile) throw new SnakepitError('USAGE', `listening on TCP (--listen ${shown}) needs the cluster's token: --token-file FILE (or SNAKEPIT_TOKEN_FILE); ${MAKE_TOKEN}`);
  if (!!req.tlsCert !== !!req.tlsKey) throw new SnakepitError('USAGE', `${req.tlsCert ? '--tls-cert' : '--tls-key'} needs ${req.tlsCert ? '--tls-key' : '--tls-cert'} too: a certificate and its key go together`);
  const tls = !!req.tlsCert;
  if (req.tlsClientCa && !tls) throw new SnakepitError('USAGE', '--tls-client-ca needs --tls-cert and --tls-key: client certificates are checked only over TLS');
  if (tls && req.insecureTransport) throw new SnakepitError('USAGE', '--insecure-transport contradicts --tls-cert/--tls-key: use one or the other');
  const loopback = isLoopbackHost(listen.host);
  if (!loopback && !tls && !req.insecureTransport) {
    throw new SnakepitError(
      'USAGE',
      `listening on ${shown} (not loopback) without TLS is refused: pass --tls-cert FILE --tls-key FILE (make them with \`snakepit certs init DIR && snakepit certs issue DIR HOST\`), or --insecure-transport to send the token and every call across the network in clear text`,
    );
  }
  // Fails now, not after the workers started, when an every-interface listener has no single address to advertise.
  advertiseAddress(listen, listen.port || 1, advertise, interfaces);
  const warnings = !tls && !loopback ? [`the Agent API on ${shown} is served without TLS (--insecure-transport): the token and every call cross the network in clear text`] : [];
  return {
    tcp: {
      listen: shown,
      ...(advertise ? { advertise: formatHostPort(advertise) } : {}),
      tokenFile: req.tokenFile,
      ...(tls ? { tlsCert: req.tlsCert, tlsKey: req.tlsKey } : {}),
      ...(req.tlsClientCa ? { tlsClientCa: req.tlsClientCa } : {}),
      ...(req.insecureTransport ? { insecureTransport: true } : {}),
    },
    transport: tls ? (req.tlsClientCa ? 'mtls' : 'tls') : 'insecure',
    warnings,
  };
}
