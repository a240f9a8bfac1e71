// The management RPCs of the Agent API (tools, stats, shutdown, drain, reload) through grpc-js.
// Loaded only when one of them is called: calls themselves go through the lean Exchange client.
import * as grpc from '@grpc/grpc-js';
import { SnakepitError } from '../errors.js';
import { agentService, channelOptions } from './proto.js';

export interface UnaryClient {
  call<Req, Res>(method: string, request: Req): Promise<Res>;
  /** A server-streaming RPC: `onMessage` per message, `onEnd` once (with an error or not). */
  stream<Req, Res>(method: string, request: Req, onMessage: (m: Res) => void, onEnd: (err?: SnakepitError) => void): () => void;
  close(): void;
}

export function unaryClient(address: string, maxPayloadBytes: number, noAgent: () => SnakepitError): UnaryClient {
  const Service = agentService();
  const client = new Service(address, grpc.credentials.createInsecure(), channelOptions(maxPayloadBytes)) as unknown as grpc.Client & Record<string, Function>;
  const transportError = (err: grpc.ServiceError): SnakepitError => {
    switch (err.code) {
      case grpc.status.UNAVAILABLE:
        return noAgent();
      case grpc.status.DEADLINE_EXCEEDED:
        return new SnakepitError('TIMEOUT', `the agent did not answer in time: ${err.details}`);
      case grpc.status.CANCELLED:
        return new SnakepitError('CANCELLED', err.details || 'call cancelled');
      case grpc.status.RESOURCE_EXHAUSTED:
        return new SnakepitError('PAYLOAD_TOO_LARGE', err.details);
      case grpc.status.UNAUTHENTICATED:
        return new SnakepitError('UNAUTHENTICATED', err.details);
      case grpc.status.NOT_FOUND:
        return new SnakepitError('TOOL_NOT_FOUND', err.details);
      case grpc.status.FAILED_PRECONDITION:
        return new SnakepitError(String(err.metadata?.get('snakepit-code')[0] ?? 'INTERNAL'), err.details);
      default:
        return new SnakepitError('INTERNAL', `Agent API error: ${err.details || err.message}`);
    }
  };
  return {
    call: <Req, Res>(method: string, request: Req): Promise<Res> =>
      new Promise((resolve, reject) => {
        client[method]!(request, new grpc.Metadata(), {}, (err: grpc.ServiceError | null, res: Res) => (err ? reject(transportError(err)) : resolve(res)));
      }),
    stream: <Req, Res>(method: string, request: Req, onMessage: (m: Res) => void, onEnd: (err?: SnakepitError) => void) => {
      const call = client[method]!(request, new grpc.Metadata(), {}) as grpc.ClientReadableStream<Res>;
      let ended = false;
      const end = (err?: SnakepitError): void => {
        if (ended) return;
        ended = true;
        onEnd(err);
      };
      call.on('data', onMessage);
      call.on('error', (err: grpc.ServiceError) => end(err.code === grpc.status.CANCELLED ? undefined : transportError(err)));
      call.on('end', () => end());
      return () => {
        ended = true;
        call.cancel();
      };
    },
    close: () => client.close(),
  };
}
