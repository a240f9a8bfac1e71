// The one mapping between gRPC statuses and Snakepit's error codes, both ways, for every client
// (the Exchange client over HTTP/2 or the lane, the management client) and the server. A call's
// own failure never travels as a status: it is in the reply body with its code. A status is a
// transport or request-level failure; the agent adds its code as `snakepit-code` metadata when it
// has one (a failed Reload, an unknown worker), which wins over the status. No grpc-js here: the
// exec fast path imports this and must stay lean.
import { SnakepitError } from '../errors.js';
import { tlsFailure } from '../security/tls-errors.js';

/** gRPC status codes (grpc/status.h). */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** Metadata keys the server sets beside a failed status. */
export const CODE_KEY = 'snakepit-code';
export const AGENT_KEY = 'snakepit-agent';

/**
 * The error a client reports for a failed status. `noAgent` builds the "nobody answers here"
 * error (AGENT_UNAVAILABLE, with a hint on how to start one).
 */
export function errorFromStatus(status: number, details: string, meta: { code?: string | undefined; agent?: string | undefined }, noAgent: () => SnakepitError): SnakepitError {
  const agent = meta.agent ? { agent: meta.agent } : {};
  if (meta.code) return SnakepitError.from({ code: meta.code, message: details, ...agent });
  switch (status) {
    case Status.UNAVAILABLE:
      return noAgent();
    case Status.DEADLINE_EXCEEDED:
      return new SnakepitError('TIMEOUT', `the agent did not answer in time${details ? `: ${details}` : ''}`, agent);
    case Status.CANCELLED:
      return new SnakepitError('CANCELLED', details || 'call cancelled', agent);
    case Status.RESOURCE_EXHAUSTED:
      return new SnakepitError('PAYLOAD_TOO_LARGE', details, agent);
    case Status.UNAUTHENTICATED:
      return new SnakepitError('UNAUTHENTICATED', details, agent);
    case Status.INVALID_ARGUMENT:
      return new SnakepitError('INVALID_ARGUMENTS', details, agent);
    case Status.NOT_FOUND:
      return new SnakepitError('TOOL_NOT_FOUND', details, agent);
    default:
      return new SnakepitError('INTERNAL', `Agent API error (status ${status})${details ? `: ${details}` : ''}`, agent);
  }
}

/** The status a server answers a failed request with; the code travels as metadata. */
export function statusFor(code: string): number {
  switch (code) {
    case 'TOOL_NOT_FOUND':
      return Status.NOT_FOUND;
    case 'INVALID_ARGUMENTS':
      return Status.INVALID_ARGUMENT;
    case 'PAYLOAD_TOO_LARGE':
      return Status.RESOURCE_EXHAUSTED;
    case 'UNAUTHENTICATED':
      return Status.UNAUTHENTICATED;
    case 'TIMEOUT':
      return Status.DEADLINE_EXCEEDED;
    case 'AGENT_UNAVAILABLE':
      return Status.UNAVAILABLE;
    default:
      return Status.FAILED_PRECONDITION;
  }
}

/** The error a response's headers or trailers carry (a `grpc-status` other than OK), or null. */
export function errorFromHeaders(h: Record<string, string | string[] | number | undefined>, noAgent: () => SnakepitError): SnakepitError | null {
  const status = Number(h['grpc-status'] ?? 0);
  if (status === Status.OK) return null;
  const text = (v: unknown): string | undefined => (v === undefined ? undefined : String(v));
  let message = text(h['grpc-message']) ?? '';
  try {
    message = decodeURIComponent(message);
  } catch {
    /* not percent-encoded after all */
  }
  return errorFromStatus(status, message, { code: text(h[CODE_KEY]), agent: text(h[AGENT_KEY]) }, noAgent);
}

/**
 * A connection's own failure (Node's socket, TLS or http2 error) as the error a client reports:
 * a TLS failure names the certificate problem (TLS_ERROR); "nobody answers" is `noAgent()`.
 */
export function errorFromTransport(err: NodeJS.ErrnoException, noAgent: () => SnakepitError, address = ''): SnakepitError {
  const tls = tlsFailure(err, address);
  if (tls) return tls;
  const unreachable = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET' || err.code === 'EPIPE' || err.code === 'ERR_HTTP2_STREAM_CANCEL' || err.code === 'ERR_HTTP2_SESSION_ERROR';
  if (err.code === 'ETIMEDOUT') return new SnakepitError('AGENT_UNAVAILABLE', err.message, { unsent: true });
  return unreachable ? noAgent() : new SnakepitError('AGENT_UNAVAILABLE', `the connection to the agent failed: ${err.message}`);
}
