// One HTTP/2 session to an agent address over Node's own http2, for the two streams that do not
// use grpc-js (the Exchange stream, h2-client.ts; heartbeats, h2-stream.ts): a unix socket, or TCP
// in plaintext or TLS as security/client.ts decides, and the headers every request carries (the
// token, on TCP only: the home's socket needs none).
import type { ClientHttp2Session, SecureClientSessionOptions } from 'node:http2';
import { isIP, connect as netConnect } from 'node:net';
import { TOKEN_HEADER, bearer } from '../security/token.js';
import { transportFor, type ClientSecurity } from '../security/client.js';
import { DEFAULTS } from '../defaults.js';

export interface H2Target {
  session: ClientHttp2Session;
  /** Headers each request adds (authorization on TCP with a token). */
  headers: Record<string, string>;
  /** The session runs over TLS. */
  tls: boolean;
}

function asPem(v: string | Uint8Array): string | Buffer {
  return typeof v === 'string' || Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export function h2Session(address: string, security: ClientSecurity | undefined, connectTimeoutMs: number = DEFAULTS.connectTimeoutMs): H2Target {
  const target = openSession(address, security);
  // A peer that accepts the connection and then says nothing (no TLS handshake, no SETTINGS)
  // would hold every call on the session for ever: it is given up after connectTimeoutMs.
  const session = target.session;
  const timer = setTimeout(() => {
    const err = Object.assign(new Error(`nothing answered at ${address} within ${connectTimeoutMs} ms (connectTimeoutMs): is it a Snakepit agent or router, and reachable?`), { code: 'ETIMEDOUT' });
    session.destroy(err);
  }, connectTimeoutMs);
  timer.unref();
  session.once('remoteSettings', () => clearTimeout(timer));
  session.once('close', () => clearTimeout(timer));
  return target;
}

function openSession(address: string, security: ClientSecurity | undefined): H2Target {
  // Loaded on first use: the local lane never needs http2, and loading it costs ~12 ms.
  const { connect } = process.getBuiltinModule('node:http2') as typeof import('node:http2');
  const t = transportFor(address, security);
  if (t.kind === 'unix') return { session: connect('http://localhost', { createConnection: () => netConnect(t.path) }), headers: {}, tls: false };
  const headers: Record<string, string> = t.token ? { [TOKEN_HEADER]: bearer(t.token) } : {};
  if (!t.tls) return { session: connect(`http://${t.authority}`), headers, tls: false };
  const options: SecureClientSessionOptions = {
    // An IP literal is no SNI name (RFC 6066): none is sent, and the certificate is checked
    // against the IP (its IP SANs).
    servername: t.tls.servername ?? (isIP(t.host) ? '' : t.host),
    // Public options take any Uint8Array (no Node types in the API); tls wants a string or a Buffer.
    ...(t.tls.ca ? { ca: asPem(t.tls.ca) } : {}),
    ...(t.tls.cert ? { cert: asPem(t.tls.cert) } : {}),
    ...(t.tls.key ? { key: asPem(t.tls.key) } : {}),
  };
  return { session: connect(`https://${t.authority}`, options), headers, tls: true };
}
