// The worker transports an agent can use, by name. `pipe` (default) is framed messages on two
// dedicated pipes; `grpc` is one bidirectional stream to a grpcio server in the worker (needs a
// Python with grpcio). Both implement the same WorkerChannel contract.
import { SnakepitError } from '../errors.js';
import type { WorkerTransport } from './channel.js';
import { grpcTransport } from './grpc-channel.js';
import { pipeTransport } from './pipe-channel.js';

export const TRANSPORTS = ['pipe', 'grpc'] as const;
export type TransportName = (typeof TRANSPORTS)[number];

const registry: Partial<Record<TransportName, WorkerTransport>> = { pipe: pipeTransport, grpc: grpcTransport };

export function transportFor(name: TransportName): WorkerTransport {
  const t = registry[name];
  if (!t) throw new SnakepitError('CONFIG_INVALID', `worker transport '${name}' is not available`);
  return t;
}
