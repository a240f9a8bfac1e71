// The management RPCs of the Agent API (tools, stats, drain, reload, watch…) and the health
// service, typed, through grpc-js. Loaded only when one of them is called: calls themselves go
// through the lean Exchange client (h2-client.ts). Failures map to Snakepit errors in one place
// (status.ts), the same mapping the Exchange client uses.
import * as grpc from '@grpc/grpc-js';
import { isIP } from 'node:net';
import { checkServerIdentity } from 'node:tls';
import { DEFAULTS } from '../defaults.js';
import { SnakepitError } from '../errors.js';
import { healthServiceDefinition } from './agent-codec.js';
import { agentService, channelOptions, type WireTool } from './proto.js';
import { AGENT_KEY, CODE_KEY, errorFromStatus } from './status.js';
import { transportFor, type ClientSecurity } from '../security/client.js';
import { tlsFailure } from '../security/tls-errors.js';
import { TOKEN_HEADER, bearer } from '../security/token.js';

/** Request and reply shapes of each unary method (the codec's camelCase objects). */
export interface UnaryMethods {
  ListTools: [{ pool: string }, { tools: WireTool[] }];
  Stats: [object, { json: string }];
  Shutdown: [{ graceMs: number }, { pid: number }];
  Drain: [{ deadlineMs: number }, { drained: boolean; pid: number }];
  Reload: [{ pool: string }, { replaced: number; changes?: string[] }];
  Scale: [{ pool: string; size: number }, { pool: string; previous: number; size: number }];
  RestartWorker: [{ worker: string }, object];
  ClusterControl: [{ op: string; agent?: string; count?: number; deadlineMs?: number }, { json: string }];
}

export interface WatchMessage {
  statsJson?: string;
  eventJson?: string;
  lagged?: number;
}

export interface HeartbeatMessage {
  agent: string;
  seq: number;
  inFlight: number;
  queueDepth: number;
  capacity: number;
  sessions: number;
  serving: boolean;
}

export interface UnaryClient {
  call<M extends keyof UnaryMethods>(method: M, request: UnaryMethods[M][0]): Promise<UnaryMethods[M][1]>;
  /** WatchEvents: `onMessage` per message, `onEnd` once (with an error or not). Returns cancel. */
  watch(request: { intervalMs: number; calls: boolean }, onMessage: (m: WatchMessage) => void, onEnd: (err?: SnakepitError) => void): () => void;
  /** grpc.health.v1 Check of `service` ("" = the server as a whole): 1 SERVING, 2 NOT_SERVING. */
  health(service?: string): Promise<number>;
  close(): void;
}

type Stub = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

const pem = (v: string | Uint8Array | undefined): Buffer | null => (v === undefined ? null : typeof v === 'string' ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength));
/** The TLS server name sent when dialling an IP (`.invalid` is reserved: it names nothing). */
const NO_SERVERNAME = 'ip-address.invalid';

/**
 * The unary client of `address` (`unix:/path` or `HOST:PORT`). Over TCP it uses TLS or plaintext
 * as security/client.ts decides, and sends the token as metadata on every call: per call rather
 * than as call credentials, which grpc-js applies only to TLS channels.
 */
export function unaryClient(address: string, maxPayloadBytes: number, noAgent: () => SnakepitError, security?: ClientSecurity): UnaryClient {
  const t = transportFor(address, security);
  const tls = t.kind === 'tcp' ? t.tls : undefined;
  // grpc-js would send an IP literal as the TLS server name (SNI), which RFC 6066 forbids and
  // Node flags with a deprecation warning on stderr: an IP gets a reserved name that means "none"
  // instead, and the certificate is still checked against the IP itself (its IP SANs).
  const ipHost = t.kind === 'tcp' && !tls?.servername && isIP(t.host) ? t.host : undefined;
  const servername = tls?.servername ?? (ipHost ? NO_SERVERNAME : undefined);
  const options: grpc.ChannelOptions = {
    ...channelOptions(maxPayloadBytes),
    ...(servername ? { 'grpc.ssl_target_name_override': servername } : {}),
    ...(tls?.servername ? { 'grpc.default_authority': tls.servername } : {}),
  };
  const verify: grpc.VerifyOptions = ipHost ? { checkServerIdentity: (_name, cert) => checkServerIdentity(ipHost, cert) } : {};
  const credentials = tls ? grpc.credentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert), verify) : grpc.credentials.createInsecure();
  const token = t.kind === 'tcp' ? t.token : undefined;
  const metadata = (): grpc.Metadata => {
    const md = new grpc.Metadata();
    if (token) md.set(TOKEN_HEADER, bearer(token));
    return md;
  };
  const client = new (agentService())(address, credentials, options) as unknown as Stub;
  let healthStub: Stub | undefined;
  const toError = (err: grpc.ServiceError): SnakepitError => {
    const meta = (key: string): string | undefined => {
      const v = err.metadata?.get(key)[0];
      return v === undefined ? undefined : String(v);
    };
    const details = err.details || err.message;
    if (err.code === grpc.status.UNAVAILABLE) {
      // grpc-js says "No connection established" when the call never left: another address may take it.
      const unsent = /^No connection established/.test(details);
      const e = tlsFailure(details, address) ?? errorFromStatus(err.code, details, { code: meta(CODE_KEY), agent: meta(AGENT_KEY) }, noAgent);
      return unsent ? new SnakepitError(e.code, e.message, { ...(e.agent ? { agent: e.agent } : {}), unsent: true }) : e;
    }
    return errorFromStatus(err.code, details, { code: meta(CODE_KEY), agent: meta(AGENT_KEY) }, noAgent);
  };
  // A peer that accepts and then says nothing leaves the channel connecting for ever; a call
  // still waiting for a connection after connectTimeoutMs is cancelled (refused connections still
  // fail at once: calls are not waitForReady).
  const connecting = (): boolean => client.getChannel().getConnectivityState(false) !== grpc.connectivityState.READY;
  const noAnswer = (): SnakepitError => new SnakepitError('AGENT_UNAVAILABLE', `nothing answered at ${address} within ${DEFAULTS.connectTimeoutMs} ms (connectTimeoutMs): is it a Snakepit agent or router, and reachable?`, { unsent: true });
  const unary = <Res>(stub: Stub, method: string, request: unknown): Promise<Res> =>
    new Promise((resolve, reject) => {
      let timedOut = false;
      const call = stub[method]!(request, metadata(), {}, (err: grpc.ServiceError | null, res: Res) => {
        clearTimeout(timer);
        if (timedOut) reject(noAnswer());
        else if (err) reject(toError(err));
        else resolve(res);
      }) as grpc.ClientUnaryCall;
      const timer = setTimeout(() => {
        if (!connecting()) return;
        timedOut = true;
        call.cancel();
      }, DEFAULTS.connectTimeoutMs);
      timer.unref();
    });
  /** A server-streaming call: `onMessage` per message, `onEnd` once (with an error or not). */
  function serverStream<M>(method: string, request: unknown, onMessage: (m: M) => void, onEnd: (err?: SnakepitError) => void): () => void {
    const call = client[method]!(request, metadata(), {}) as grpc.ClientReadableStream<M>;
    let ended = false;
    const end = (err?: SnakepitError): void => {
      if (ended) return;
      ended = true;
      onEnd(err);
    };
    call.on('data', onMessage);
    call.on('error', (err: grpc.ServiceError) => end(err.code === grpc.status.CANCELLED ? undefined : toError(err)));
    call.on('end', () => end());
    return () => {
      ended = true;
      call.cancel();
    };
  }
  return {
    call: (method, request) => unary(client, method, request),
    watch: (request, onMessage, onEnd) => serverStream('WatchEvents', request, onMessage, onEnd),
    async health(service = '') {
      healthStub ??= new (grpc.makeGenericClientConstructor(healthServiceDefinition(), 'Health'))(address, credentials, { ...options, channelOverride: client.getChannel() }) as unknown as Stub;
      return (await unary<{ status: number }>(healthStub, 'Check', { service })).status;
    },
    close: () => {
      healthStub?.close();
      client.close();
    },
  };
}
