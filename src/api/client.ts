// connect(): a client of an agent daemon over the Agent API. Offers the same calls as the
// embedded agent; transport failures become typed errors (no agent → UNAVAILABLE, which the CLI
// maps to exit code 3 with a hint on how to start one).
import * as grpc from '@grpc/grpc-js';
import { existsSync } from 'node:fs';
import { DEFAULTS } from '../defaults.js';
import { SnakepitError } from '../errors.js';
import { runExecute, runStream, toRawRequest, type RawRequest } from '../client/calls.js';
import type { AgentStats, CallOptions, SnakepitClient, ToolInfo } from '../client/types.js';
import { homePaths, resolveHome } from '../daemon/home.js';
import { agentService, channelOptions, type WireExecuteReply, type WireExecuteRequest, type WireStreamReply, type WireTool } from './proto.js';

export interface ConnectOptions {
  /** Snakepit home of a daemon (default: SNAKEPIT_HOME or the user's state dir). */
  home?: string;
  /** Explicit address instead of a home: `unix:/path.sock` or `host:port`. */
  address?: string;
  maxPayloadBytes?: number;
}

export interface AgentClient extends SnakepitClient {
  readonly address: string;
  /** Asks the agent to stop gracefully; resolves with its pid once it accepted. */
  shutdown(graceMs?: number): Promise<number>;
  /** Drains the agent (new calls fail with DRAINING), then it stops; resolves when drained. */
  drain(deadlineMs?: number): Promise<{ drained: boolean; pid: number }>;
  /** Replaces every worker one at a time; resolves with how many were replaced. */
  reload(pool?: string): Promise<number>;
  close(): void;
}

/** Extra time on the gRPC deadline so the agent's own TIMEOUT error arrives first. */
const DEADLINE_SLACK_MS = 2_000;

export function connect(options: ConnectOptions = {}): AgentClient {
  let address = options.address;
  let home: string | undefined;
  if (!address) {
    home = resolveHome(options.home);
    const socket = homePaths(home).socket;
    address = `unix:${socket}`;
  }
  const Service = agentService();
  const client = new Service(address, grpc.credentials.createInsecure(), channelOptions(options.maxPayloadBytes ?? DEFAULTS.maxPayloadBytes)) as unknown as grpc.Client & Record<string, Function>;
  const where = home ? `home ${home}` : address;

  const noAgent = (): SnakepitError =>
    new SnakepitError('UNAVAILABLE', `no agent reachable at ${where}; start one with \`snakepit up${home && options.home ? ` --home ${home}` : ''}\``);

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

  const metadataFor = (req: RawRequest): grpc.CallOptions => (req.timeoutMs ? { deadline: Date.now() + req.timeoutMs + DEADLINE_SLACK_MS } : {});

  const wire = (req: RawRequest): WireExecuteRequest => ({
    tool: req.tool,
    argsJson: req.args.json,
    blobs: req.args.blobs,
    session: req.session ?? '',
    timeoutMs: req.timeoutMs ?? 0,
    idempotent: req.idempotent,
    pool: req.pool ?? '',
  });

  const unary = <Req, Res>(method: string, request: Req, opts: grpc.CallOptions = {}): Promise<Res> => {
    if (home && !existsSync(homePaths(home).socket)) return Promise.reject(noAgent());
    return new Promise((resolve, reject) => {
      client[method]!(request, new grpc.Metadata(), opts, (err: grpc.ServiceError | null, res: Res) => (err ? reject(transportError(err)) : resolve(res)));
    });
  };

  return {
    address,
    execute<T>(tool: string, args?: Record<string, unknown>, opts: CallOptions = {}): Promise<T> {
      let req: RawRequest;
      try {
        req = toRawRequest(tool, args, opts);
      } catch (err) {
        return Promise.reject(err);
      }
      if (home && !existsSync(homePaths(home).socket)) return Promise.reject(noAgent());
      return runExecute<T>(tool, opts.signal, (done) => {
        const call = client.Execute!(wire(req), new grpc.Metadata(), metadataFor(req), (err: grpc.ServiceError | null, reply: WireExecuteReply) => {
          if (err) {
            const e = transportError(err);
            done(e.toJSON());
          } else if (reply.error) done(reply.error.type || reply.error.traceback ? reply.error : { code: reply.error.code, message: reply.error.message });
          else done(null, { json: reply.result?.json ?? Buffer.from('null'), blobs: reply.result?.blobs ?? [] });
        }) as grpc.ClientUnaryCall;
        return { cancel: () => call.cancel() };
      });
    },
    stream<T>(tool: string, args?: Record<string, unknown>, opts: CallOptions = {}): AsyncIterableIterator<T> {
      const req = toRawRequest(tool, args, opts);
      return runStream<T>(tool, opts.signal, (sink) => {
        if (home && !existsSync(homePaths(home).socket)) {
          queueMicrotask(() => sink.error(noAgent().toJSON()));
          return { cancel() {} };
        }
        let finished = false;
        const call = client.ExecuteStream!(wire(req), new grpc.Metadata(), metadataFor(req)) as grpc.ClientReadableStream<WireStreamReply>;
        call.on('data', (m: WireStreamReply) => {
          if (m.chunk) sink.chunk({ json: m.chunk.json, blobs: m.chunk.blobs });
          else if (m.error) {
            finished = true;
            sink.error(m.error.type || m.error.traceback ? m.error : { code: m.error.code, message: m.error.message });
          } else if (m.end) {
            finished = true;
            sink.end();
          }
        });
        call.on('error', (err: grpc.ServiceError) => {
          if (!finished) sink.error(transportError(err).toJSON());
        });
        return { cancel: () => call.cancel() };
      });
    },
    async tools(o?: { pool?: string }): Promise<ToolInfo[]> {
      const reply = await unary<{ pool: string }, { tools: WireTool[] }>('ListTools', { pool: o?.pool ?? '' });
      return reply.tools.map((t) => ({
        name: t.name,
        doc: t.doc,
        stream: t.stream,
        pool: t.pool,
        params: t.params.map((p) => ({ name: p.name, type: p.type, required: p.required, default: p.required ? null : (JSON.parse(p.defaultJson || 'null') as unknown) })),
      }));
    },
    async stats(): Promise<AgentStats> {
      const reply = await unary<object, { json: string }>('Stats', {});
      return JSON.parse(reply.json) as AgentStats;
    },
    async shutdown(graceMs = 0): Promise<number> {
      const reply = await unary<{ graceMs: number }, { pid: number }>('Shutdown', { graceMs });
      return reply.pid;
    },
    async drain(deadlineMs = 0): Promise<{ drained: boolean; pid: number }> {
      return unary<{ deadlineMs: number }, { drained: boolean; pid: number }>('Drain', { deadlineMs });
    },
    async reload(pool?: string): Promise<number> {
      return (await unary<{ pool: string }, { replaced: number }>('Reload', { pool: pool ?? '' })).replaced;
    },
    close() {
      client.close();
    },
  };
}
