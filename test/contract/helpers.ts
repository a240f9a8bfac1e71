// The interpreters the contract suite runs each worker transport on. gRPC workers need grpcio,
// which CI installs from Debian (.ci/run: python3-grpcio, python3-protobuf) for /usr/bin/python3;
// a missing grpcio fails the suite loudly instead of skipping it.
import { spawnSync } from 'node:child_process';
import { PYTHON } from '../helpers/env.js';

/** Interpreter for gRPC workers: SNAKEPIT_GRPC_PYTHON if set, else Debian's /usr/bin/python3. */
export const GRPC_PYTHON: string = process.env.SNAKEPIT_GRPC_PYTHON ?? '/usr/bin/python3';

export const TRANSPORTS: Array<[transport: 'pipe' | 'grpc', python: string]> = [
  ['pipe', PYTHON],
  ['grpc', GRPC_PYTHON],
];

/** Throws (failing the suite) unless `python` can run a gRPC worker. */
export function requireGrpcio(python: string): void {
  const probe = spawnSync(python, ['-c', 'import grpc, google.protobuf'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    throw new Error(
      `the gRPC worker transport tests need ${python} with grpcio and protobuf ` +
        `(apt-get install python3-grpcio python3-protobuf, or set SNAKEPIT_GRPC_PYTHON): ${probe.error?.message ?? probe.stderr.trim()}`,
    );
  }
}

/** The `--listen` address a worker was started with (from its command line), if any. */
export function listenAddress(cmdline: string[]): string | undefined {
  const i = cmdline.indexOf('--listen');
  return i >= 0 ? cmdline[i + 1] : undefined;
}
