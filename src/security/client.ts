// What a client needs to reach an agent (or a router) over TCP, and the one decision of how it
// talks to an address: TLS when it was given TLS settings, plaintext only to loopback (or with
// the explicit --insecure-transport), TLS verified against the system's roots otherwise. Used by
// all three client transports (the Exchange and heartbeat streams over node:http2, the unary
// client over grpc-js), so they agree. No grpc-js here: the `exec` fast path loads this.
import { SnakepitError } from '../errors.js';
import { isLoopbackHost, parseHostPort } from './addresses.js';
import { readPemFile, readTokenFile } from './trusted-file.js';

export interface ClientTls {
  /** PEM of the CA certificate(s) the agent's certificate must chain to; absent: the system's roots. */
  ca?: string | Uint8Array;
  /** PEM client certificate and its key, for an agent that requires them (mTLS). */
  cert?: string | Uint8Array;
  key?: string | Uint8Array;
  /** The name the agent's certificate must carry, when it is not the address's host. */
  servername?: string;
}

export interface ClientSecurity {
  /** The cluster's shared token, sent on every Agent API call over TCP. */
  token?: string;
  /** TLS settings; absent: TLS with the system's roots off loopback, plaintext on loopback. */
  tls?: ClientTls;
  /** Plaintext even off loopback (`--insecure-transport`): the token and every call in clear text. */
  insecureTransport?: boolean;
}

/** How to talk to one address. */
export type Transport =
  | { kind: 'unix'; path: string }
  | { kind: 'tcp'; host: string; port: number; authority: string; tls: ClientTls | undefined; token: string | undefined };

/** The transport for `address` (`unix:/path` or `HOST:PORT`) under `security` (pure). */
export function transportFor(address: string, security: ClientSecurity | undefined): Transport {
  if (address.startsWith('unix:')) return { kind: 'unix', path: address.slice('unix:'.length) };
  const { host, port } = parseHostPort(address, 'an agent address');
  const tls = security?.tls ?? (isLoopbackHost(host) || security?.insecureTransport ? undefined : {});
  return { kind: 'tcp', host, port, authority: address, tls, token: security?.token };
}

/** The paths and switches a command line (or `connect()`) gives for security. */
export interface ClientSecurityFiles {
  tokenFile?: string | undefined;
  tlsCa?: string | undefined;
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  tlsServername?: string | undefined;
  insecureTransport?: boolean | undefined;
}

/** Reads the files (the trust rules of trusted-file.ts) into a ClientSecurity; usage errors for contradictions. */
export function loadClientSecurity(files: ClientSecurityFiles): ClientSecurity {
  if (!!files.tlsCert !== !!files.tlsKey) throw new SnakepitError('USAGE', `${files.tlsCert ? '--tls-cert' : '--tls-key'} needs ${files.tlsCert ? '--tls-key' : '--tls-cert'} too: a client certificate and its key go together`);
  const anyTls = !!(files.tlsCa || files.tlsCert || files.tlsServername);
  if (anyTls && files.insecureTransport) throw new SnakepitError('USAGE', '--insecure-transport contradicts --tls-ca/--tls-cert/--tls-servername: use one or the other');
  const tls: ClientTls | undefined = anyTls
    ? {
        ...(files.tlsCa ? { ca: readPemFile(files.tlsCa, 'public', '--tls-ca') } : {}),
        ...(files.tlsCert ? { cert: readPemFile(files.tlsCert, 'public', '--tls-cert') } : {}),
        ...(files.tlsKey ? { key: readPemFile(files.tlsKey, 'secret', '--tls-key') } : {}),
        ...(files.tlsServername ? { servername: files.tlsServername } : {}),
      }
    : undefined;
  return {
    ...(files.tokenFile ? { token: readTokenFile(files.tokenFile) } : {}),
    ...(tls ? { tls } : {}),
    ...(files.insecureTransport ? { insecureTransport: true } : {}),
  };
}
