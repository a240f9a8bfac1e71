// The one client wrapper over the Agent API seam: `startAgent()` wraps an in-process Agent with
// it and `connect()` a RemoteAgent, so both offer the same calls with the same options and the
// same typed errors, and a router served behind a socket looks like any agent. Here the user's
// values are encoded (once), AbortSignals are honoured, and answers decoded.
import type { AgentApi } from '../api/agent-api.js';
import { runExecute, runStream, toRawRequest, type RawRequest } from './calls.js';
import type { CallOptions, ManagedClient, WatchOptions } from './types.js';
import { updateIterator } from './updates.js';

/** The client wrapper's shape (public as ManagedClient). */
export type ApiClient = ManagedClient;

export function clientOf(api: AgentApi): ApiClient {
  return {
    execute<T>(tool: string, args?: Record<string, unknown>, opts: CallOptions = {}): Promise<T> {
      let req: RawRequest;
      try {
        req = toRawRequest(tool, args, opts);
      } catch (err) {
        return Promise.reject(err);
      }
      return runExecute<T>(tool, opts.signal, (done) => api.execute(req, done));
    },
    stream<T>(tool: string, args?: Record<string, unknown>, opts: CallOptions = {}): AsyncIterableIterator<T> {
      const req = toRawRequest(tool, args, opts);
      return runStream<T>(tool, opts.signal, (sink) => api.stream(req, sink));
    },
    tools: (o?: { pool?: string }) => api.tools(o?.pool),
    stats: () => api.stats(),
    watch: (o: WatchOptions = {}) => updateIterator({ start: (push, end) => api.watch(o, push, end) }),
    restartWorker: (id: string) => api.restartWorker(id),
    reload: async (pool?: string) => (await api.reload(pool)).replaced,
    reloadReport: (pool?: string) => api.reload(pool),
    scalePool: (size: number, o?: { pool?: string }) => api.scale(size, o?.pool),
  };
}
