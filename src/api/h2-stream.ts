// One server-streaming gRPC call over Node's own http2, without grpc-js: what a router keeps open
// to each agent for its heartbeats. A grpc-js channel (resolver, load balancer, subchannel, call
// stack) cost the router ~25 ms of CPU per agent to set up, on the cores the agents of a
// starting cluster need; this is one HTTP/2 session and one stream. Messages are read with the
// one 5-byte prefix reader (grpc-frame.ts) and statuses mapped by status.ts, as the Exchange
// client does.
import { SnakepitError } from '../errors.js';
import type { ClientSecurity } from '../security/client.js';
import { h2Session } from './h2-session.js';
import { MessageReader } from './grpc-frame.js';
import { errorFromHeaders, errorFromTransport } from './status.js';

export interface ServerStreamOptions {
  /** `unix:/path.sock` or `host:port`. */
  address: string;
  /** `/package.Service/Method`. */
  path: string;
  /** The request as one gRPC message (5-byte prefix included). */
  request: Buffer;
  maxMessageBytes: number;
  noAgent: () => SnakepitError;
  /** TLS and the token for a TCP address. */
  security?: ClientSecurity | undefined;
}

/**
 * Opens the call: `onMessage` gets each message body; `onEnd` is called once, with the error
 * when it did not end with status OK (or the connection failed). Returns the function that
 * cancels it (then `onEnd` is not called).
 */
export function serverStream(opts: ServerStreamOptions, onMessage: (body: Buffer) => void, onEnd: (err?: SnakepitError) => void): () => void {
  const { constants } = process.getBuiltinModule('node:http2') as typeof import('node:http2');
  const { address } = opts;
  const { session, headers } = h2Session(address, opts.security);
  let over = false;
  let failure: SnakepitError | null | undefined;
  const end = (err?: SnakepitError | null): void => {
    if (over) return;
    over = true;
    session.destroy();
    onEnd(err ?? undefined);
  };
  session.on('error', (err: NodeJS.ErrnoException) => end(errorFromTransport(err, opts.noAgent, address)));
  const stream = session.request({
    [constants.HTTP2_HEADER_METHOD]: 'POST',
    [constants.HTTP2_HEADER_PATH]: opts.path,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...headers,
  });
  stream.end(opts.request);
  const reader = new MessageReader(opts.maxMessageBytes);
  stream.on('data', (chunk: Buffer) => {
    if (over) return;
    let bodies: Buffer[];
    try {
      bodies = reader.push(chunk);
    } catch (err) {
      end(err instanceof SnakepitError ? err : new SnakepitError('PROTOCOL_ERROR', `malformed message from the agent: ${(err as Error).message}`));
      return;
    }
    for (const body of bodies) if (!over) onMessage(body);
  });
  // A trailers-only response (an immediate error) carries its status in the headers.
  stream.on('response', (h) => {
    if (h['grpc-status'] !== undefined) failure = errorFromHeaders(h, opts.noAgent);
  });
  stream.on('trailers', (h) => (failure = errorFromHeaders(h, opts.noAgent)));
  stream.on('error', (err: NodeJS.ErrnoException) => end(errorFromTransport(err, opts.noAgent, address)));
  // Closed without any status: the agent went away mid-call.
  stream.on('close', () => end(failure === undefined ? opts.noAgent() : failure));
  return () => {
    if (over) return;
    over = true;
    stream.close(constants.NGHTTP2_CANCEL);
    session.close();
  };
}
