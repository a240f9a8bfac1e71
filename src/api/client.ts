// connect(): a client of an agent daemon (or a router) over the Agent API. It is the one client
// wrapper (src/client/client.ts) over a RemoteAgent: calls over one multiplexed, batched
// Exchange stream (the home's local lane on this host), management RPCs through grpc-js loaded
// on first use. "Nobody answers here" is AGENT_UNAVAILABLE, which the CLI maps to exit code 3
// with a hint on how to start an agent.
import { existsSync } from 'node:fs';
import { SnakepitError } from '../errors.js';
import { clientOf } from '../client/client.js';
import type { ClusterOutcome, ManagedClient } from '../client/types.js';
import { homePaths, resolveHome } from '../daemon/home.js';
import { RemoteAgent } from './remote-agent.js';

export interface ConnectOptions {
  /** Snakepit home of a daemon (default: SNAKEPIT_HOME or the user's state dir). */
  home?: string;
  /** Explicit address instead of a home: `unix:/path.sock` or `host:port`. */
  address?: string;
  maxPayloadBytes?: number;
}

export interface AgentClient extends ManagedClient {
  readonly address: string;
  /** Asks the agent to stop gracefully; resolves with its pid once it accepted. */
  shutdown(graceMs?: number): Promise<number>;
  /** Drains the agent (new calls fail with DRAINING), then it stops; resolves when drained. */
  drain(deadlineMs?: number): Promise<{ drained: boolean; pid: number }>;
  /** Through a router: no new calls or sessions go to the agent (`on` false lifts it). */
  cordon(agent: string, on?: boolean): Promise<ClusterOutcome>;
  /** Through a router: cordon the agent, let its calls finish, then stop it (it stays cordoned). */
  drainAgent(agent: string, deadlineMs?: number): Promise<ClusterOutcome>;
  /** Through a router: grow or shrink the cluster to `count` agents. */
  scale(count: number): Promise<ClusterOutcome>;
  close(): void;
}

export function connect(options: ConnectOptions = {}): AgentClient {
  let address = options.address;
  let home: string | undefined;
  if (!address) {
    home = resolveHome(options.home);
    address = `unix:${homePaths(home).socket}`;
  }
  const where = home ? `home ${home}` : address;
  const noAgent = (): SnakepitError =>
    new SnakepitError('AGENT_UNAVAILABLE', `no agent reachable at ${where}; start one with \`snakepit up${home && options.home ? ` --home ${home}` : ''}\``);
  const remote = new RemoteAgent({
    address,
    // On this host, calls take the local lane (the Exchange stream without HTTP/2).
    ...(home ? { lane: homePaths(home).lane } : {}),
    noAgent,
    // A home without a socket has no agent: say so at once instead of trying to connect.
    ...(home ? { absent: () => !existsSync(homePaths(home!).socket) } : {}),
    ...(options.maxPayloadBytes ? { maxPayloadBytes: options.maxPayloadBytes } : {}),
  });
  return {
    ...clientOf(remote),
    address,
    shutdown: (graceMs) => remote.shutdownAgent(graceMs),
    cordon: (agent, on = true) => remote.cluster({ op: on ? 'cordon' : 'uncordon', agent }),
    drainAgent: (agent, deadlineMs) => remote.cluster({ op: 'drain', agent, ...(deadlineMs ? { deadlineMs } : {}) }),
    scale: (count) => remote.cluster({ op: 'scale', count }),
    drain: (deadlineMs) => remote.drainAgent(deadlineMs),
    close: () => remote.close(),
  };
}
