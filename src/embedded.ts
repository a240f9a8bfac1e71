// startAgent(): an agent inside the calling Node process (the embedded default). The caller owns
// its lifetime: `stop()` finishes in-flight calls and stops every worker.
import { Agent, type AgentStats, type ToolInfo } from './agent/agent.js';
import type { AgentEvent } from './agent/events.js';
import { silentLogger } from './agent/log.js';
import { resolvePools, type AgentOptions } from './agent/options.js';
import { runExecute, runStream, toRawRequest } from './client/calls.js';
import type { CallOptions, SnakepitClient, WatchOptions } from './client/types.js';
import { updateIterator } from './client/updates.js';
import { DEFAULTS } from './defaults.js';

export interface EmbeddedAgent extends SnakepitClient {
  readonly runId: string;
  /** Pids of the current worker processes. */
  workerPids(): number[];
  /** Subscribes to worker lifecycle events (spawned, ready, exited, recycled, …); returns unsubscribe. */
  onEvent(listener: (event: AgentEvent) => void): () => void;
  /** Replaces every worker one at a time (new code is imported); resolves with the count. */
  reload(pool?: string): Promise<number>;
  stop(): Promise<void>;
}

export async function startAgent(options: AgentOptions = {}): Promise<EmbeddedAgent> {
  const agent = new Agent(await resolvePools(options), options.logger ?? silentLogger);
  if (options.onEvent) agent.onEvent(options.onEvent);
  await agent.start();
  return embeddedClient(agent);
}

export function embeddedClient(agent: Agent): EmbeddedAgent {
  return {
    runId: agent.runId,
    execute<T>(tool: string, args?: Record<string, unknown>, opts: CallOptions = {}): Promise<T> {
      let req;
      try {
        req = toRawRequest(tool, args, opts);
      } catch (err) {
        return Promise.reject(err);
      }
      return runExecute<T>(tool, opts.signal, (done) => agent.execute(req, done));
    },
    stream<T>(tool: string, args?: Record<string, unknown>, opts: CallOptions = {}): AsyncIterableIterator<T> {
      const req = toRawRequest(tool, args, opts);
      return runStream<T>(tool, opts.signal, (sink) => agent.stream(req, sink));
    },
    tools: async (o?: { pool?: string }): Promise<ToolInfo[]> => agent.tools(o?.pool),
    stats: async (): Promise<AgentStats> => agent.stats(),
    watch: (o: WatchOptions = {}) =>
      updateIterator({
        start(push) {
          const snapshot = (): void => push({ type: 'stats', stats: agent.stats() });
          snapshot();
          const timer = setInterval(snapshot, Math.min(DEFAULTS.watchIntervalMaxMs, Math.max(DEFAULTS.watchIntervalMinMs, o.intervalMs ?? DEFAULTS.watchIntervalMs)));
          const off = agent.onEvent((event) => {
            if (event.type !== 'call.finished' || o.calls) push({ type: 'event', event });
          });
          return () => {
            clearInterval(timer);
            off();
          };
        },
      }),
    restartWorker: (id: string) => agent.restartWorker(id),
    workerPids: () => agent.workerPids(),
    onEvent: (listener) => agent.onEvent(listener),
    reload: (pool) => agent.reload(pool),
    stop: () => agent.stop(),
  };
}
