// The cluster's shared token on the wire: every Agent API call on TCP carries
// `authorization: Bearer <token>` (gRPC's usual metadata for credentials; HTTP/2 headers and gRPC
// metadata are the same thing). The agent keeps only the token's SHA-256 and compares digests
// with crypto.timingSafeEqual: equal-length inputs whatever the peer sends, so the time taken
// tells nothing about how much of a guess was right.
import { createHash, timingSafeEqual } from 'node:crypto';

/** The metadata key (an HTTP/2 header name: lower case). */
export const TOKEN_HEADER = 'authorization';
const SCHEME = 'Bearer ';

/** The header value a client sends. */
export function bearer(token: string): string {
  return `${SCHEME}${token}`;
}

export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Why the presented header (the values a peer sent, as gRPC metadata gives them) does not authenticate, or undefined when it does. */
export function tokenProblem(expected: Buffer, presented: ReadonlyArray<string | Buffer>): string | undefined {
  if (presented.length === 0) return 'this Agent API address needs the cluster token: give the client --token-file FILE (or SNAKEPIT_TOKEN_FILE)';
  const value = presented.length === 1 ? String(presented[0]) : undefined;
  const token = value?.startsWith(SCHEME) ? value.slice(SCHEME.length) : undefined;
  // Digest whatever came (also a malformed header) so every refusal costs the same.
  const ok = timingSafeEqual(tokenDigest(token ?? value ?? ''), expected);
  if (ok && token !== undefined) return undefined;
  return `the token presented is not this cluster's token (${TOKEN_HEADER}: ${SCHEME.trim()} …); check the client's --token-file`;
}
