// The files of an agent's TCP listener, read and proven (trusted-file.ts) without grpc-js, so
// `up` checks them before it starts anything: the token (only its digest is kept), and the TLS
// certificate, key and client CA, which must parse, match and not have expired.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { SnakepitError } from '../errors.js';
import { readPemFile, readTokenFile } from './trusted-file.js';
import { tokenDigest } from './token.js';

/** The files of a TCP listener, as `up` takes them. */
export interface ServerSecurityFiles {
  tokenFile: string;
  /** TLS: the agent's certificate (chain) and key (both or neither). */
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  /** Require client certificates signed by this CA (mTLS). */
  tlsClientCa?: string | undefined;
}

export interface ServerSecurity {
  /** SHA-256 of the cluster token. */
  tokenDigest: Buffer;
  tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer };
}

/** Reads and checks the files: the token's rules, PEMs that parse, a key that matches its certificate. */
export function loadServerSecurity(files: ServerSecurityFiles, now = Date.now()): ServerSecurity {
  const digest = tokenDigest(readTokenFile(files.tokenFile));
  if (!files.tlsCert && !files.tlsKey) {
    if (files.tlsClientCa) throw new SnakepitError('USAGE', '--tls-client-ca needs --tls-cert and --tls-key: client certificates are checked only over TLS');
    return { tokenDigest: digest };
  }
  if (!files.tlsCert || !files.tlsKey) throw new SnakepitError('USAGE', `${files.tlsCert ? '--tls-cert' : '--tls-key'} needs ${files.tlsCert ? '--tls-key' : '--tls-cert'} too`);
  const cert = readPemFile(files.tlsCert, 'public', '--tls-cert');
  const key = readPemFile(files.tlsKey, 'secret', '--tls-key');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new SnakepitError('CONFIG_INVALID', `--tls-cert ${files.tlsCert} holds no certificate that parses: ${(err as Error).message}`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new SnakepitError('CONFIG_INVALID', `--tls-key ${files.tlsKey} holds no private key that parses (an unencrypted PEM key is needed): ${(err as Error).message}`);
  }
  if (!x509.checkPrivateKey(privateKey)) throw new SnakepitError('CONFIG_INVALID', `--tls-key ${files.tlsKey} is not the key of the certificate in --tls-cert ${files.tlsCert}`);
  if (Date.parse(x509.validTo) < now) throw new SnakepitError('CONFIG_INVALID', `--tls-cert ${files.tlsCert} expired on ${x509.validTo}: issue a new one (\`snakepit certs issue\`)`);
  let clientCa: Buffer | undefined;
  if (files.tlsClientCa) {
    clientCa = readPemFile(files.tlsClientCa, 'public', '--tls-client-ca');
    try {
      new X509Certificate(clientCa);
    } catch (err) {
      throw new SnakepitError('CONFIG_INVALID', `--tls-client-ca ${files.tlsClientCa} holds no certificate that parses: ${(err as Error).message}`);
    }
  }
  return { tokenDigest: digest, tls: { cert, key, ...(clientCa ? { clientCa } : {}) } };
}
