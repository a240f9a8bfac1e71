// The management RPCs of the Agent API (tools, stats, drain, reload, watch…) and the health
// service, typed, through grpc-js. Loaded only when one of them is called: calls themselves go
// through the lean Exchange client (h2-client.ts). Failures map to Snakepit errors in one place
// (status.ts), the same mapping the Exchange client uses.
import * as grpc from '@grpc/grpc-js';
import { SnakepitError } from '../errors.js';
import { healthServiceDefinition } from './agent-codec.js';
import { agentService, channelOptions, type WireTool } from './proto.js';
import { AGENT_KEY, CODE_KEY, errorFromStatus } from './status.js';

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

export function unaryClient(address: string, maxPayloadBytes: number, noAgent: () => SnakepitError): UnaryClient {
  const options = channelOptions(maxPayloadBytes);
  const client = new (agentService())(address, grpc.credentials.createInsecure(), options) as unknown as Stub;
  let healthStub: Stub | undefined;
  const toError = (err: grpc.ServiceError): SnakepitError => {
    const meta = (key: string): string | undefined => {
      const v = err.metadata?.get(key)[0];
      return v === undefined ? undefined : String(v);
    };
    return errorFromStatus(err.code, err.details || err.message, { code: meta(CODE_KEY), agent: meta(AGENT_KEY) }, noAgent);
  };
  const unary = <Res>(stub: Stub, method: string, request: unknown): Promise<Res> =>
    new Promise((resolve, reject) => {
      stub[method]!(request, new grpc.Metadata(), {}, (err: grpc.ServiceError | null, res: Res) => (err ? reject(toError(err)) : resolve(res)));
    });
  /** A server-streaming call: `onMessage` per message, `onEnd` once (with an error or not). */
  function serverStream<M>(method: string, request: unknown, onMessage: (m: M) => void, onEnd: (err?: SnakepitError) => void): () => void {
    const call = client[method]!(request, new grpc.Metadata(), {}) as grpc.ClientReadableStream<M>;
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
      healthStub ??= new (grpc.makeGenericClientConstructor(healthServiceDefinition(), 'Health'))(address, grpc.credentials.createInsecure(), { ...options, channelOverride: client.getChannel() }) as unknown as Stub;
      return (await unary<{ status: number }>(healthStub, 'Check', { service })).status;
    },
    close: () => {
      healthStub?.close();
      client.close();
    },
  };
}
