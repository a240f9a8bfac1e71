// A TLS failure, as Node (its error codes) or grpc-js (OpenSSL's words only) reports it, turned
// into the error a user can act on: TLS_ERROR, naming the certificate problem and the flag that
// fixes it. No grpc-js here: every client transport maps its failures through this.
import { SnakepitError } from '../errors.js';

/** OpenSSL's verify errors (Node's `err.code`) and what they mean for the user. */
const VERIFY: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the agent's certificate is not signed by a CA this client trusts",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the agent's certificate is not signed by a CA this client trusts",
  UNABLE_TO_GET_ISSUER_CERT: "the agent's certificate is not signed by a CA this client trusts",
  SELF_SIGNED_CERT_IN_CHAIN: "the agent's certificate chains to a CA this client does not trust",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the agent's certificate is self-signed and not trusted by this client",
  CERT_HAS_EXPIRED: "the agent's certificate has expired",
  CERT_NOT_YET_VALID: "the agent's certificate is not valid yet (check the clocks)",
  ERR_TLS_CERT_ALTNAME_INVALID: "the agent's certificate does not name the address dialled",
  CERT_SIGNATURE_FAILURE: "the agent's certificate has a bad signature",
  INVALID_PURPOSE: "the agent's certificate is not for TLS servers (extendedKeyUsage lacks serverAuth)",
};
/** The same errors as OpenSSL words them (grpc-js reports only the text). */
const VERIFY_TEXT: Array<[RegExp, string]> = [
  [/unable to verify the first certificate/i, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
  [/unable to get local issuer certificate/i, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'],
  [/unable to get issuer certificate/i, 'UNABLE_TO_GET_ISSUER_CERT'],
  [/self[- ]signed certificate in certificate chain/i, 'SELF_SIGNED_CERT_IN_CHAIN'],
  [/self[- ]signed certificate/i, 'DEPTH_ZERO_SELF_SIGNED_CERT'],
  [/certificate has expired/i, 'CERT_HAS_EXPIRED'],
  [/certificate is not yet valid/i, 'CERT_NOT_YET_VALID'],
  [/does not match certificate's altnames|ERR_TLS_CERT_ALTNAME_INVALID/i, 'ERR_TLS_CERT_ALTNAME_INVALID'],
  [/certificate signature failure/i, 'CERT_SIGNATURE_FAILURE'],
  [/unsupported certificate purpose/i, 'INVALID_PURPOSE'],
];
/** TLS alerts and record errors: the agent refused this client's certificate, or does not speak TLS. */
const HANDSHAKE_TEXT: Array<[RegExp, string, string]> = [
  [/alert certificate required/i, 'the agent requires a client certificate (mTLS)', 'pass --tls-cert FILE --tls-key FILE (or SNAKEPIT_TLS_CERT / SNAKEPIT_TLS_KEY)'],
  [/alert unknown ca|alert bad certificate|alert certificate unknown|alert decrypt error/i, "the agent does not accept this client's certificate (not signed by the CA it trusts, or not for TLS clients)", 'use a certificate issued by the CA given to the agent as --tls-client-ca (`snakepit certs issue`)'],
  [/alert certificate expired/i, "the agent refused this client's certificate: it has expired", 'issue a new one (`snakepit certs issue`)'],
  [/wrong version number|packet length too long|http request|unknown protocol/i, 'the agent does not speak TLS on this address', 'it listens without TLS: connect to a loopback address, or give both sides TLS (`up --tls-cert/--tls-key`)'],
];

/**
 * A TLS failure as the error a user can act on (code TLS_ERROR, naming the certificate problem
 * and the flag that fixes it), or undefined when `err` is no TLS failure. Reads Node's error
 * codes (also of a `cause`) and, for grpc-js, which reports text only, OpenSSL's wording.
 */
export function tlsFailure(err: unknown, address: string): SnakepitError | undefined {
  const parts: string[] = [];
  const codes: string[] = [];
  for (let e = err as (Error & { code?: unknown; cause?: unknown }) | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e === 'string') parts.push(e);
    else {
      if (typeof e.code === 'string') codes.push(e.code);
      if (typeof e.message === 'string') parts.push(e.message);
    }
  }
  const text = parts.join(' ');
  const code = codes.find((c) => c in VERIFY) ?? VERIFY_TEXT.find(([re]) => re.test(text))?.[1];
  if (code) {
    const fix = code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? 'dial a name the certificate carries, pass --tls-servername NAME, or issue a certificate for this address (`snakepit certs issue DIR HOST`)' : code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID' || code === 'INVALID_PURPOSE' ? 'issue a new certificate (`snakepit certs issue`)' : 'pass --tls-ca FILE (or SNAKEPIT_TLS_CA) with the CA that signed it, e.g. the ca.crt of `snakepit certs init`';
    return new SnakepitError('TLS_ERROR', `TLS to ${address} failed: ${VERIFY[code]} (${code}): ${fix}`);
  }
  const handshake = HANDSHAKE_TEXT.find(([re]) => re.test(text) || codes.some((c) => re.test(c.replace(/_/g, ' '))));
  if (handshake) return new SnakepitError('TLS_ERROR', `TLS to ${address} failed: ${handshake[1]}: ${handshake[2]}`);
  return undefined;
}
