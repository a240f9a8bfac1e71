// The optional gRPC WorkerChannel (`workerTransport: 'grpc'`): the worker serves
// proto/snakepit/v1/worker.proto from grpcio on a unix socket (python/snakepit/grpc_transport.py)
// and the agent keeps ONE bidirectional `Connect` stream open to it, multiplexing calls by id
// exactly as the pipe transport does with frames. The pool cannot tell the two apart.
//
// Start-up: the channel connects right after spawn with waitForReady and a short reconnect
// backoff, so it keeps retrying until the worker listens; the pool's start timeout kills a worker
// that never does, and the process exit closes the channel.
//
// grpc-js and proto-loader are loaded on first use only: agents on the pipe transport (and every
// `import 'snakepit'`) never pay for them.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type * as GrpcJs from '@grpc/grpc-js';
import type * as ProtoLoader from '@grpc/proto-loader';
import { SnakepitError, type ErrorInfo } from '../errors.js';
import { PROTO_DIR } from '../paths.js';
import type { CallFrame, ReadyInfo, WorkerChannel, WorkerChannelEvents, WorkerTransport } from './channel.js';

/** Wire shapes of worker.proto as @grpc/proto-loader presents them (camelCase, oneofs named). */
interface WireValue {
  id: number;
  json: Buffer;
  blobs: Buffer[];
}
export interface WireAgentMessage {
  call?: { id: number; tool: string; session?: string; timeoutMs?: number; argsJson: Buffer; blobs: Buffer[] };
  cancel?: { id: number };
  ping?: { seq: number };
  shutdown?: Record<string, never>;
}
export interface WireWorkerMessage {
  kind?: 'ready' | 'result' | 'chunk' | 'end' | 'error' | 'pong' | 'log';
  ready?: { json: Buffer } | null;
  result?: WireValue | null;
  chunk?: WireValue | null;
  end?: { id: number } | null;
  error?: { id: number; code: string; message: string; type: string; traceback: string } | null;
  pong?: { seq: number } | null;
  log?: { callId: number; level: string; logger: string; message: string } | null;
}

export const CONNECT_PATH = '/snakepit.v1.Worker/Connect';
/** Room for protobuf framing around a payload the worker accepted (it sizes values as frames). */
const MESSAGE_SLACK = 64 * 1024;
/** How long a worker whose stream ended unexpectedly may take to exit before the channel fails. */
const EXIT_AFTER_STREAM_END_MS = 1_000;
/** Longest unix socket path (sun_path is 108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;

const load = createRequire(import.meta.url);
let grpcJs: typeof GrpcJs | undefined;

function grpc(): typeof GrpcJs {
  return (grpcJs ??= load('@grpc/grpc-js') as typeof GrpcJs);
}

type ConnectMethod = ProtoLoader.MethodDefinition<WireAgentMessage, WireWorkerMessage>;
let connectMethod: ConnectMethod | undefined;

/** The `Connect` method of worker.proto (loaded once per process). */
export function connectDefinition(): ConnectMethod {
  if (connectMethod) return connectMethod;
  const protoLoader = load('@grpc/proto-loader') as typeof ProtoLoader;
  const def = protoLoader.loadSync(join(PROTO_DIR, 'snakepit/v1/worker.proto'), {
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const service = def['snakepit.v1.Worker'] as ProtoLoader.ServiceDefinition;
  connectMethod = service.Connect as ConnectMethod;
  return connectMethod;
}

export class GrpcChannel implements WorkerChannel {
  readonly ended: Promise<void>;
  private resolveEnded!: () => void;
  private readonly client: GrpcJs.Client;
  private readonly stream: GrpcJs.ClientDuplexStream<WireAgentMessage, WireWorkerMessage>;
  private closed = false;
  private connected = false;
  private shuttingDown = false;
  private failTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly address: string,
    /** The unix socket file to remove on close (undefined for host:port). */
    private readonly socketPath: string | undefined,
    private readonly child: ChildProcess,
    private readonly events: WorkerChannelEvents,
    maxFrameBytes: number,
  ) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
    const method = connectDefinition();
    const { Client, Metadata, credentials } = grpc();
    this.client = new Client(address, credentials.createInsecure(), {
      'grpc.max_receive_message_length': maxFrameBytes + MESSAGE_SLACK,
      'grpc.max_send_message_length': -1,
      // The worker is still starting when we first try: retry often, so READY is not delayed by
      // grpc's default 1 s backoff.
      'grpc.initial_reconnect_backoff_ms': 10,
      'grpc.max_reconnect_backoff_ms': 50,
      'grpc.use_local_subchannel_pool': 1,
      'grpc.enable_retries': 0,
      'grpc.enable_channelz': 0,
    });
    // waitForReady: the call waits through connection failures (no listener yet) instead of
    // failing with UNAVAILABLE.
    this.stream = this.client.makeBidiStreamRequest(
      CONNECT_PATH,
      method.requestSerialize,
      method.responseDeserialize,
      new Metadata({ waitForReady: true }),
      {},
    );
    this.stream.on('data', (m: WireWorkerMessage) => this.onMessage(m));
    this.stream.on('error', () => {}); // the status below says everything; never unhandled
    this.stream.on('status', (status: GrpcJs.StatusObject) => this.onStatus(status));
    child.once('exit', () => {
      // Never connected: nothing can be in transit.
      if (!this.connected) this.resolveEnded();
    });
  }

  send(call: CallFrame): void {
    this.write({
      call: {
        id: call.id,
        tool: call.tool,
        ...(call.session !== null ? { session: call.session } : {}),
        ...(call.timeoutMs !== null ? { timeoutMs: call.timeoutMs } : {}),
        argsJson: call.args.json,
        blobs: call.args.blobs,
      },
    });
  }

  cancel(id: number): void {
    this.write({ cancel: { id } });
  }

  ping(seq: number): void {
    this.write({ ping: { seq } });
  }

  shutdown(): void {
    this.shuttingDown = true;
    this.write({ shutdown: {} });
  }

  close(): void {
    if (this.failTimer) clearTimeout(this.failTimer);
    this.failTimer = undefined;
    if (!this.closed) {
      this.closed = true;
      this.stream.removeAllListeners('data');
      this.stream.cancel();
    }
    this.client.close();
    if (this.socketPath) releaseSocketPath(this.socketPath);
    this.resolveEnded();
  }

  private write(msg: WireAgentMessage): void {
    if (this.closed) return;
    this.stream.write(msg);
  }

  private onMessage(m: WireWorkerMessage): void {
    if (this.closed) return;
    this.connected = true;
    try {
      this.dispatch(m);
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private dispatch(m: WireWorkerMessage): void {
    switch (m.kind) {
      case 'result':
        this.events.frame(m.result!.id, 'result', { json: m.result!.json, blobs: m.result!.blobs });
        return;
      case 'chunk':
        this.events.frame(m.chunk!.id, 'chunk', { json: m.chunk!.json, blobs: m.chunk!.blobs });
        return;
      case 'end':
        this.events.frame(m.end!.id, 'end', null);
        return;
      case 'error': {
        const e = m.error!;
        const info: ErrorInfo = { code: e.code || 'PYTHON_EXCEPTION', message: e.message };
        if (e.type) info.type = e.type;
        if (e.traceback) info.traceback = e.traceback;
        this.events.callError(e.id, info);
        return;
      }
      case 'pong':
        this.events.pong(m.pong!.seq);
        return;
      case 'log': {
        const l = m.log!;
        this.events.log({ level: l.level || 'info', logger: l.logger || 'tool', message: l.message, callId: l.callId });
        return;
      }
      case 'ready': {
        let info: ReadyInfo;
        try {
          info = JSON.parse(m.ready!.json.toString('utf8')) as ReadyInfo;
        } catch {
          throw new SnakepitError('PROTOCOL_ERROR', 'malformed message: ready payload is not valid JSON');
        }
        this.events.ready(info);
        return;
      }
      default:
        throw new SnakepitError('PROTOCOL_ERROR', `malformed message: unknown kind ${String(m.kind)} from worker`);
    }
  }

  /** The stream is over: every message of the worker has been delivered. */
  private onStatus(status: GrpcJs.StatusObject): void {
    this.resolveEnded();
    if (this.closed) return;
    const exited = this.child.exitCode !== null || this.child.signalCode !== null;
    const { status: Status } = grpc();
    if (exited || (this.shuttingDown && status.code === Status.OK)) return;
    // The worker process normally exits right after its stream ends (the exit closes this
    // channel). If it lives on, the channel is broken and the worker must be replaced.
    const why = `gRPC stream to the worker ended (${Status[status.code] ?? status.code}${status.details ? `: ${status.details}` : ''})`;
    this.failTimer = setTimeout(() => this.fail(new SnakepitError('PROTOCOL_ERROR', why)), EXIT_AFTER_STREAM_END_MS);
    this.failTimer.unref();
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.removeAllListeners('data');
    this.events.failed(err);
  }
}

let socketDirPath: string | undefined;
let removeSocketDir: (() => void) | undefined;
/** Socket paths handed out and not released yet: the directory lives while there are any. */
const reserved = new Set<string>();

/**
 * This process's private (0700) directory for worker sockets. It is removed when its last socket
 * is released, and at process exit at the latest.
 */
export function grpcSocketDir(): string {
  if (socketDirPath) return socketDirPath;
  // Unix socket paths are short: fall back to /tmp when TMPDIR is deep.
  const base = tmpdir().length <= 48 ? tmpdir() : '/tmp';
  const dir = mkdtempSync(join(base, 'snakepit-grpc-'));
  const remove = (): void => {
    rmSync(dir, { recursive: true, force: true });
    process.off('exit', remove);
    if (socketDirPath === dir) socketDirPath = undefined;
  };
  socketDirPath = dir;
  removeSocketDir = remove;
  process.once('exit', remove);
  return dir;
}

function reserveSocketPath(workerId: string): string {
  const dir = grpcSocketDir();
  const random = randomBytes(4).toString('hex');
  const room = Math.max(1, MAX_SOCKET_PATH - dir.length - 1 - random.length - '-.sock'.length);
  const safeId = workerId.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, Math.min(room, 40));
  const path = join(dir, `${safeId}-${random}.sock`);
  reserved.add(path);
  return path;
}

/** Removes a worker's socket file; the directory goes with the last one. */
export function releaseSocketPath(path: string): void {
  rmSync(path, { force: true });
  reserved.delete(path);
  if (reserved.size === 0 && socketDirPath !== undefined && dirname(path) === socketDirPath) removeSocketDir?.();
}

function listenAddress(args: string[]): string {
  const i = args.indexOf('--listen');
  const address = i >= 0 ? args[i + 1] : undefined;
  if (!address) throw new SnakepitError('INTERNAL', 'grpc transport: the worker command line has no --listen address');
  return address;
}

/** gRPC to a grpcio server in the worker, on a unix socket in a private directory. */
export const grpcTransport: WorkerTransport = {
  name: 'grpc',
  prepare: (workerId) => ({ args: ['--transport', 'grpc', '--listen', `unix:${reserveSocketPath(workerId)}`], env: {}, extraPipes: 0 }),
  discard: (prepared) => {
    const address = listenAddress(prepared.args);
    if (address.startsWith('unix:')) releaseSocketPath(address.slice('unix:'.length));
  },
  open: (child, prepared, events, maxFrameBytes) => {
    const address = listenAddress(prepared.args);
    return new GrpcChannel(address, address.startsWith('unix:') ? address.slice('unix:'.length) : undefined, child, events, maxFrameBytes);
  },
};
