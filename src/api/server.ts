// Serves the Agent API for one Agent over gRPC. Calls pass through as bytes: the JSON arguments a
// client sent reach the worker untouched, and the worker's result bytes go straight back.
import * as grpc from '@grpc/grpc-js';
import type { Agent, AgentRequest } from '../agent/agent.js';
import type { ErrorInfo, SnakepitError } from '../errors.js';
import { DEFAULTS } from '../defaults.js';
import type { EncodedValue } from '../protocol/values.js';
import { agentService, channelOptions, type WireClientBatch, type WireError, type WireExecuteReply, type WireExecuteRequest, type WireReply, type WireServerBatch, type WireStreamReply, type WireTool } from './proto.js';

export interface ServerHooks {
  /** The Shutdown or Drain RPC was called: answer first, then stop the agent. */
  onShutdown(graceMs: number): void;
}

function toRequest(w: WireExecuteRequest): AgentRequest {
  return {
    tool: w.tool,
    args: { json: w.argsJson.length ? w.argsJson : Buffer.from('{}'), blobs: w.blobs },
    session: w.session || null,
    timeoutMs: w.timeoutMs || undefined,
    idempotent: w.idempotent,
    pool: w.pool || undefined,
  };
}

function wireError(e: ErrorInfo): WireError {
  return { code: e.code, message: e.message, type: e.type ?? '', traceback: e.traceback ?? '' };
}

function wireValue(v: EncodedValue): { json: Buffer; blobs: Buffer[] } {
  return { json: v.json, blobs: v.blobs };
}

export function agentHandlers(
  agent: Agent,
  hooks: ServerHooks,
  streams: Set<grpc.ServerDuplexStream<WireClientBatch, WireServerBatch>>,
  watchers: Set<() => void>,
): grpc.UntypedServiceImplementation {
  return {
    Execute(call: grpc.ServerUnaryCall<WireExecuteRequest, WireExecuteReply>, callback: grpc.sendUnaryData<WireExecuteReply>) {
      let answered = false;
      const control = agent.execute(toRequest(call.request), (error, value) => {
        answered = true;
        callback(null, error ? { error: wireError(error) } : { result: wireValue(value!) });
      });
      call.on('cancelled', () => {
        if (!answered) control.cancel();
      });
    },
    ExecuteStream(call: grpc.ServerWritableStream<WireExecuteRequest, WireStreamReply>) {
      let done = false;
      const finish = (last: WireStreamReply): void => {
        if (done) return;
        done = true;
        call.write(last);
        call.end();
      };
      const control = agent.stream(toRequest(call.request), {
        chunk: (v) => {
          if (!done) call.write({ chunk: wireValue(v) });
        },
        result: (v) => {
          call.write({ chunk: wireValue(v) });
          finish({ end: true });
        },
        end: () => finish({ end: true }),
        error: (e) => finish({ error: wireError(e) }),
      });
      call.on('cancelled', () => {
        if (!done) {
          done = true;
          control.cancel();
        }
      });
    },
    Exchange(call: grpc.ServerDuplexStream<WireClientBatch, WireServerBatch>) {
      exchange(agent, call, streams);
    },
    ListTools(call: grpc.ServerUnaryCall<{ pool: string }, { tools: WireTool[] }>, callback: grpc.sendUnaryData<{ tools: WireTool[] }>) {
      try {
        const tools = agent.tools(call.request.pool || undefined).map((t) => ({
          name: t.name,
          doc: t.doc,
          stream: t.stream,
          pool: t.pool,
          params: t.params.map((p) => ({ name: p.name, type: p.type, required: p.required, defaultJson: p.required ? '' : JSON.stringify(p.default ?? null) })),
        }));
        callback(null, { tools });
      } catch (err) {
        callback({ code: grpc.status.NOT_FOUND, details: (err as Error).message });
      }
    },
    Stats(_call: grpc.ServerUnaryCall<object, { json: string }>, callback: grpc.sendUnaryData<{ json: string }>) {
      callback(null, { json: JSON.stringify(agent.stats()) });
    },
    Drain(call: grpc.ServerUnaryCall<{ deadlineMs: number }, { drained: boolean; pid: number }>, callback: grpc.sendUnaryData<{ drained: boolean; pid: number }>) {
      void agent.drain(call.request.deadlineMs || undefined).then((drained) => {
        callback(null, { drained, pid: process.pid });
        setImmediate(() => hooks.onShutdown(0));
      });
    },
    Reload(call: grpc.ServerUnaryCall<{ pool: string }, { replaced: number }>, callback: grpc.sendUnaryData<{ replaced: number }>) {
      agent.reload(call.request.pool || undefined).then(
        (replaced) => callback(null, { replaced }),
        (err: SnakepitError) => {
          const md = new grpc.Metadata();
          md.set('snakepit-code', err.code);
          callback({ code: grpc.status.FAILED_PRECONDITION, details: err.message, metadata: md });
        },
      );
    },
    WatchEvents(call: grpc.ServerWritableStream<{ intervalMs: number; calls: boolean }, { statsJson?: string; eventJson?: string }>) {
      const every = call.request.intervalMs || DEFAULTS.watchIntervalMs;
      const snapshot = (): void => {
        call.write({ statsJson: JSON.stringify(agent.stats()) });
      };
      snapshot();
      const timer = setInterval(snapshot, Math.max(50, every));
      const unsubscribe = agent.onEvent((e) => {
        if (e.type === 'call.finished' && !call.request.calls) return;
        call.write({ eventJson: JSON.stringify(e) });
        if (e.type === 'agent.stopped') call.end();
      });
      const end = (): void => {
        stop();
        call.end();
      };
      const stop = (): void => {
        clearInterval(timer);
        unsubscribe();
        watchers.delete(end);
      };
      call.on('cancelled', stop);
      call.on('close', stop);
      call.on('error', stop);
      watchers.add(end);
    },
    RestartWorker(call: grpc.ServerUnaryCall<{ worker: string }, object>, callback: grpc.sendUnaryData<object>) {
      agent.restartWorker(call.request.worker).then(
        () => callback(null, {}),
        (err: SnakepitError) => {
          const md = new grpc.Metadata();
          md.set('snakepit-code', err.code);
          callback({ code: grpc.status.FAILED_PRECONDITION, details: err.message, metadata: md });
        },
      );
    },
    Shutdown(call: grpc.ServerUnaryCall<{ graceMs: number }, { pid: number }>, callback: grpc.sendUnaryData<{ pid: number }>) {
      callback(null, { pid: process.pid });
      setImmediate(() => hooks.onShutdown(call.request.graceMs));
    },
  };
}

/** One Exchange session, whatever carries it (a gRPC stream, or the local lane's socket). */
export interface ExchangeSession {
  onBatch(batch: WireClientBatch): void;
  /** The peer went away or the server stops: cancel every call still running. */
  close(): void;
}

/**
 * Calls arrive in batches and replies leave in batches: everything ready in the same turn of
 * the event loop goes out as one message. Cancels and a dropped session cancel the calls.
 */
export function exchangeSession(agent: Agent, write: (replies: WireReply[]) => void): ExchangeSession {
  const controls = new Map<number, { cancel(): void }>();
  let outgoing: WireReply[] = [];
  let scheduled = false;
  let open = true;
  const flush = (): void => {
    scheduled = false;
    if (!open || outgoing.length === 0) return;
    const replies = outgoing;
    outgoing = [];
    write(replies);
  };
  const push = (reply: WireReply): void => {
    outgoing.push(reply);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  const done = (id: number): void => {
    controls.delete(id);
  };
  return {
    onBatch(batch) {
      for (const c of batch.calls) {
        const id = c.id;
        if (!c.request) {
          push({ id, error: wireError({ code: 'INVALID_ARGUMENTS', message: 'call without a request' }) });
          continue;
        }
        const req = toRequest(c.request);
        const control = c.stream
          ? agent.stream(req, {
              chunk: (v) => push({ id, chunk: wireValue(v) }),
              result: (v) => {
                push({ id, chunk: wireValue(v) });
                push({ id, end: true });
                done(id);
              },
              end: () => {
                push({ id, end: true });
                done(id);
              },
              error: (e) => {
                push({ id, error: wireError(e) });
                done(id);
              },
            })
          : agent.execute(req, (error, value) => {
              push(error ? { id, error: wireError(error) } : { id, result: wireValue(value!) });
              done(id);
            });
        // Answers come in a later microtask at the earliest, so this runs before `done`.
        controls.set(id, control);
      }
      for (const id of batch.cancels) {
        controls.get(id)?.cancel();
        controls.delete(id);
      }
    },
    close() {
      if (!open) return;
      flush();
      open = false;
      for (const c of controls.values()) c.cancel();
      controls.clear();
    },
  };
}

function exchange(agent: Agent, call: grpc.ServerDuplexStream<WireClientBatch, WireServerBatch>, streams: Set<grpc.ServerDuplexStream<WireClientBatch, WireServerBatch>>): void {
  streams.add(call);
  const session = exchangeSession(agent, (replies) => call.write({ replies }));
  const close = (): void => {
    streams.delete(call);
    session.close();
  };
  call.on('data', (batch: WireClientBatch) => session.onBatch(batch));
  call.on('end', () => {
    close();
    call.end();
  });
  call.on('cancelled', close);
  call.on('error', close);
}

export interface AgentServer {
  /** Ends open Exchange streams (after the agent stopped), then stops the server. */
  close(): Promise<void>;
}

/** Binds a gRPC server for `agent` at `address` (e.g. `unix:/path/agent.sock`). */
export async function serveAgent(agent: Agent, address: string, hooks: ServerHooks, maxPayloadBytes: number): Promise<AgentServer> {
  const server = new grpc.Server(channelOptions(maxPayloadBytes));
  const streams = new Set<grpc.ServerDuplexStream<WireClientBatch, WireServerBatch>>();
  const watchers = new Set<() => void>();
  server.addService(agentService().service, agentHandlers(agent, hooks, streams, watchers));
  await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        // Clients keep their Exchange and WatchEvents streams open; end them so the server can stop.
        for (const s of streams) s.end();
        streams.clear();
        for (const end of watchers) end();
        watchers.clear();
        const force = setTimeout(() => server.forceShutdown(), 2_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
