// connect(): a client of an agent daemon over the Agent API. Calls go over one multiplexed,
// batched Exchange stream (h2-client.ts, no grpc-js needed); the management RPCs load grpc-js
// on first use. Transport failures become typed errors: no agent → UNAVAILABLE, which the CLI
// maps to exit code 3 with a hint on how to start one.
import { existsSync } from 'node:fs';
import { DEFAULTS } from '../defaults.js';
import { SnakepitError } from '../errors.js';
import { runExecute, runStream, toRawRequest, type RawRequest } from '../client/calls.js';
import type { AgentEvent, AgentStats, CallOptions, SnakepitClient, ToolInfo, WatchOptions, WatchUpdate } from '../client/types.js';
import { updateIterator } from '../client/updates.js';
import { homePaths, resolveHome } from '../daemon/home.js';
import type { EncodedValue } from '../protocol/values.js';
import { MESSAGE_SLACK_BYTES } from './grpc-frame.js';
import { ExchangeClient } from './h2-client.js';
import type { UnaryClient } from './unary-client.js';

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

/** Extra time past a call's own timeout so the agent's own TIMEOUT error arrives first, ms. */
const DEADLINE_SLACK_MS = 2_000;
const NULL_VALUE: EncodedValue = { json: Buffer.from('null'), blobs: [] };

export function connect(options: ConnectOptions = {}): AgentClient {
  let address = options.address;
  let home: string | undefined;
  if (!address) {
    home = resolveHome(options.home);
    address = `unix:${homePaths(home).socket}`;
  }
  const where = home ? `home ${home}` : address;
  const noAgent = (): SnakepitError =>
    new SnakepitError('UNAVAILABLE', `no agent reachable at ${where}; start one with \`snakepit up${home && options.home ? ` --home ${home}` : ''}\``);
  // A home without a socket has no agent: say so at once instead of trying to connect.
  const absent = (): boolean => home !== undefined && !existsSync(homePaths(home).socket);

  // On this host, calls take the local lane (the Exchange stream without HTTP/2).
  const exchange = new ExchangeClient({
    address: home ? `lane:${homePaths(home).lane}` : address,
    noAgent,
    deadlineSlackMs: DEADLINE_SLACK_MS,
    maxMessageBytes: (options.maxPayloadBytes ?? DEFAULTS.maxPayloadBytes) + MESSAGE_SLACK_BYTES,
  });
  let unary: Promise<UnaryClient> | undefined;
  const rpc = async <Req, Res>(method: string, request: Req): Promise<Res> => {
    if (absent()) throw noAgent();
    unary ??= import('./unary-client.js').then((m) => m.unaryClient(address!, options.maxPayloadBytes ?? DEFAULTS.maxPayloadBytes, noAgent));
    return (await unary).call<Req, Res>(method, request);
  };
  const wire = (req: RawRequest, stream: boolean) => ({ ...req, stream });

  return {
    address,
    execute<T>(tool: string, args?: Record<string, unknown>, opts: CallOptions = {}): Promise<T> {
      let req: RawRequest;
      try {
        req = toRawRequest(tool, args, opts);
      } catch (err) {
        return Promise.reject(err);
      }
      if (absent()) return Promise.reject(noAgent());
      return runExecute<T>(tool, opts.signal, (done) => ({
        cancel: exchange.start(wire(req, false), { chunk() {}, result: (v) => done(null, v), end: () => done(null, NULL_VALUE), error: (e) => done(e) }),
      }));
    },
    stream<T>(tool: string, args?: Record<string, unknown>, opts: CallOptions = {}): AsyncIterableIterator<T> {
      const req = toRawRequest(tool, args, opts);
      return runStream<T>(tool, opts.signal, (sink) => {
        if (absent()) {
          queueMicrotask(() => sink.error(noAgent().toJSON()));
          return { cancel() {} };
        }
        return { cancel: exchange.start(wire(req, true), sink) };
      });
    },
    async tools(o?: { pool?: string }): Promise<ToolInfo[]> {
      const reply = await rpc<{ pool: string }, { tools: Array<{ name: string; doc: string; stream: boolean; pool: string; params: Array<{ name: string; type: string; required: boolean; defaultJson: string }> }> }>('ListTools', { pool: o?.pool ?? '' });
      return reply.tools.map((t) => ({
        name: t.name,
        doc: t.doc,
        stream: t.stream,
        pool: t.pool,
        params: t.params.map((p) => ({ name: p.name, type: p.type, required: p.required, default: p.required ? null : (JSON.parse(p.defaultJson || 'null') as unknown) })),
      }));
    },
    async stats(): Promise<AgentStats> {
      return JSON.parse((await rpc<object, { json: string }>('Stats', {})).json) as AgentStats;
    },
    async shutdown(graceMs = 0): Promise<number> {
      return (await rpc<{ graceMs: number }, { pid: number }>('Shutdown', { graceMs })).pid;
    },
    async drain(deadlineMs = 0): Promise<{ drained: boolean; pid: number }> {
      return rpc<{ deadlineMs: number }, { drained: boolean; pid: number }>('Drain', { deadlineMs });
    },
    watch(o: WatchOptions = {}): AsyncIterableIterator<WatchUpdate> {
      return updateIterator({
        start(push, end) {
          let cancel: (() => void) | undefined;
          let stopped = false;
          void (async () => {
            if (absent()) throw noAgent();
            unary ??= import('./unary-client.js').then((m) => m.unaryClient(address!, options.maxPayloadBytes ?? DEFAULTS.maxPayloadBytes, noAgent));
            const u = await unary;
            if (stopped) return;
            cancel = u.stream<{ intervalMs: number; calls: boolean }, { statsJson?: string; eventJson?: string; lagged?: number }>(
              'WatchEvents',
              { intervalMs: o.intervalMs ?? 0, calls: o.calls ?? false },
              (m) => {
                if (m.statsJson) push({ type: 'stats', stats: JSON.parse(m.statsJson) as AgentStats });
                else if (m.eventJson) push({ type: 'event', event: JSON.parse(m.eventJson) as AgentEvent });
                else if (m.lagged !== undefined) push({ type: 'lagged', dropped: m.lagged });
              },
              end,
            );
          })().catch((err: Error) => end(err));
          return () => {
            stopped = true;
            cancel?.();
          };
        },
      });
    },
    async restartWorker(id: string): Promise<void> {
      await rpc<{ worker: string }, object>('RestartWorker', { worker: id });
    },
    async reload(pool?: string): Promise<number> {
      return (await rpc<{ pool: string }, { replaced: number }>('Reload', { pool: pool ?? '' })).replaced;
    },
    close() {
      exchange.close();
      void unary?.then((u) => u.close());
    },
  };
}
