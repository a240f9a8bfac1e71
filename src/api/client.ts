// connect(): a client of an agent daemon (or a router) over the Agent API. It is the one client
// wrapper (src/client/client.ts) over a RemoteAgent: calls over one multiplexed, batched
// Exchange stream (the home's local lane on this host), management RPCs through grpc-js loaded
// on first use. "Nobody answers here" is AGENT_UNAVAILABLE, which the CLI maps to exit code 3
// with a hint on how to start an agent. A TCP address gets the token and TLS settings
// (security/client.ts decides plaintext or TLS per address); several addresses fail over
// (failover.ts).
import { existsSync } from 'node:fs';
import { SnakepitError } from '../errors.js';
import { clientOf } from '../client/client.js';
import type { ClusterOutcome, ManagedClient } from '../client/types.js';
import { homePaths, resolveHome } from '../daemon/home.js';
import { RemoteAgent } from './remote-agent.js';
import { FailoverAgent } from './failover.js';
import { DEFAULTS } from '../defaults.js';
import { transportFor, type ClientSecurity, type ClientTls } from '../security/client.js';
import { readTokenFile } from '../security/trusted-file.js';

export interface ConnectOptions {
  /** Snakepit home of a daemon (default: SNAKEPIT_HOME or the user's state dir). */
  home?: string;
  /** Explicit address instead of a home: `unix:/path.sock` or `HOST:PORT` (`[IPv6]:PORT`). */
  address?: string;
  /** Several addresses (routers, usually): calls fail over between them (src/api/failover.ts). */
  addresses?: string[];
  /** The cluster's token, sent on every call to a TCP address (`authorization: Bearer …`). */
  token?: string;
  /** The file holding the token instead (it must be yours and private: mode 0600). */
  tokenFile?: string;
  /**
   * TLS to TCP addresses (PEM contents): `ca` to verify the agent's certificate (absent: the
   * system's roots), `cert` + `key` for agents that require client certificates, `servername`
   * when the certificate names another host than the address. Without it, plaintext to loopback
   * addresses and TLS with the system's roots to any other.
   */
  tls?: ClientTls;
  /** Plaintext even to non-loopback addresses: the token and every call cross the network in clear text. */
  insecureTransport?: boolean;
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
  const given = [...(options.addresses ?? []), ...(options.address ? [options.address] : [])];
  if (options.token !== undefined && options.tokenFile !== undefined) throw new SnakepitError('USAGE', 'connect(): give token or tokenFile, not both');
  if (options.tls && options.insecureTransport) throw new SnakepitError('USAGE', 'connect(): tls and insecureTransport contradict each other');
  if (options.token !== undefined) checkToken(options.token);
  const security: ClientSecurity = {
    ...(options.token !== undefined ? { token: options.token } : options.tokenFile ? { token: readTokenFile(options.tokenFile, 'tokenFile') } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.insecureTransport ? { insecureTransport: true } : {}),
  };
  let remote: RemoteAgent | FailoverAgent;
  if (given.length === 0) {
    const home = resolveHome(options.home);
    const paths = homePaths(home);
    remote = new RemoteAgent({
      address: `unix:${paths.socket}`,
      // On this host, calls take the local lane (the Exchange stream without HTTP/2).
      lane: paths.lane,
      noAgent: () => new SnakepitError('AGENT_UNAVAILABLE', `no agent reachable at home ${home}; start one with \`snakepit up${options.home ? ` --home ${home}` : ''}\``),
      // A home without a socket has no agent: say so at once instead of trying to connect.
      absent: () => !existsSync(paths.socket),
      ...(options.maxPayloadBytes ? { maxPayloadBytes: options.maxPayloadBytes } : {}),
    });
  } else {
    const remotes = given.map((address) => {
      const t = transportFor(address, security); // a malformed address fails here, at once
      const hint = t.kind === 'tcp' && !t.tls ? ' (if it serves TLS, pass --tls-ca FILE)' : '';
      return new RemoteAgent({
        address,
        noAgent: () => new SnakepitError('AGENT_UNAVAILABLE', `no agent reachable at ${address}${hint}`),
        security,
        ...(options.maxPayloadBytes ? { maxPayloadBytes: options.maxPayloadBytes } : {}),
      });
    });
    remote = remotes.length === 1 ? remotes[0]! : new FailoverAgent(remotes);
  }
  return {
    ...clientOf(remote),
    address: remote.address,
    shutdown: (graceMs) => remote.shutdownAgent(graceMs),
    cordon: (agent, on = true) => remote.cluster({ op: on ? 'cordon' : 'uncordon', agent }),
    drainAgent: (agent, deadlineMs) => remote.cluster({ op: 'drain', agent, ...(deadlineMs ? { deadlineMs } : {}) }),
    scale: (count) => remote.cluster({ op: 'scale', count }),
    drain: (deadlineMs) => remote.drainAgent(deadlineMs),
    close: () => remote.close(),
  };
}

/** A token given as a string obeys the rules of a token file's content. */
function checkToken(token: string): void {
  if (!/^[\x21-\x7e]+$/.test(token) || token.length < DEFAULTS.tokenMinBytes) throw new SnakepitError('USAGE', `connect(): token must be at least ${DEFAULTS.tokenMinBytes} printable ASCII characters without spaces`);
}
