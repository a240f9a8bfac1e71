// startAgent(): an agent inside the calling Node process (the embedded default). The caller owns
// its lifetime: `stop()` finishes in-flight calls and stops every worker. The client side is the
// same wrapper `connect()` uses (src/client/client.ts), over the in-process Agent.
import { Agent } from './agent/agent.js';
import type { AgentEvent } from './agent/events.js';
import { silentLogger } from './agent/log.js';
import type { AgentOptions } from './agent/agent-options.js';
import { resolvePools } from './agent/options.js';
import { clientOf } from './client/client.js';
import type { ManagedClient } from './client/types.js';

export interface EmbeddedAgent extends ManagedClient {
  /** The agent's id (in stats, events and errors). */
  readonly id: string;
  readonly runId: string;
  /** Pids of the current worker processes. */
  workerPids(): number[];
  /** Subscribes to every event (worker spawned, ready, exited, recycled, each call, …); returns unsubscribe. */
  onEvent(listener: (event: AgentEvent) => void): () => void;
  stop(): Promise<void>;
}

export async function startAgent(options: AgentOptions = {}): Promise<EmbeddedAgent> {
  const agent = new Agent(await resolvePools(options), options.logger ?? silentLogger);
  // A reload reads the options' config file again (a new size resizes a pool; see Agent.reload).
  agent.configure({ source: () => resolvePools(options) });
  if (options.onEvent) agent.onEvent(options.onEvent, { calls: true });
  await agent.start();
  return embeddedClient(agent);
}

// Not exported: its declaration would name Agent, and with it the engine's types, in the public
// declarations of this module.
function embeddedClient(agent: Agent): EmbeddedAgent {
  return {
    ...clientOf(agent),
    id: agent.id,
    runId: agent.runId,
    workerPids: () => agent.workerPids(),
    onEvent: (listener) => agent.onEvent(listener, { calls: true }),
    stop: () => agent.stop(),
  };
}
