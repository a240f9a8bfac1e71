// Which agent a client command talks to, and how: `--address HOST:PORT[,…]` (else `--home`,
// else SNAKEPIT_ADDRESS, else the default home), with the token and TLS of `--token-file`,
// `--tls-ca`, `--tls-cert`, `--tls-key`, `--tls-servername`, `--insecure-transport` (flags over
// SNAKEPIT_TOKEN_FILE, SNAKEPIT_TLS_CA, SNAKEPIT_TLS_CERT, SNAKEPIT_TLS_KEY). A home is reached over
// its own socket and lane: no token, no TLS, and none of those files is read.
import type { ConnectOptions } from '../api/client.js';
import { ENV } from '../defaults.js';
import { loadClientSecurity, type ClientSecurityFiles } from '../security/client.js';

/** The flags every client command takes (commander's camelCase names): where, and the security files. */
export interface TargetFlags extends ClientSecurityFiles {
  home?: string | undefined;
  address?: string | undefined;
}

/** connect()'s options for `flags` (files read here: a bad one fails before anything is sent). */
export function targetOptions(flags: TargetFlags, env: NodeJS.ProcessEnv = process.env): ConnectOptions {
  const list = flags.address ?? (flags.home ? undefined : env[ENV.address] || undefined);
  if (!list) return flags.home ? { home: flags.home } : {};
  const addresses = list
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  const security = loadClientSecurity({
    tokenFile: flags.tokenFile ?? (env[ENV.tokenFile] || undefined),
    tlsCa: flags.tlsCa ?? (env[ENV.tlsCa] || undefined),
    tlsCert: flags.tlsCert ?? (env[ENV.tlsCert] || undefined),
    tlsKey: flags.tlsKey ?? (env[ENV.tlsKey] || undefined),
    tlsServername: flags.tlsServername,
    insecureTransport: flags.insecureTransport,
  });
  return { addresses, ...security };
}

/** Whether the command talks to a home on this host (version checks, local files make sense then). */
export function isLocal(target: ConnectOptions): boolean {
  return !target.addresses?.length && !target.address;
}
