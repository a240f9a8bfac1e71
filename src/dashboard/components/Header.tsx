// First line: what we watch (agent or router pid, version, uptime; a router's agent count) and
// where it listens.
import { Text } from 'ink';
import type { AgentStats } from '../../client/types.js';
import { formatDuration } from '../format.js';
import { accent } from './tone.js';

export interface HeaderProps {
  readonly agent: AgentStats['agent'] | null;
  readonly address: string;
  readonly stale: boolean;
  readonly color: boolean;
  /** Behind a router: how many agents it has. */
  readonly agents?: number;
}

export function Header({ agent, address, stale, color, agents }: HeaderProps) {
  const kind = agent?.kind === 'router' ? 'router' : 'agent';
  const count = agents === undefined ? '' : ` · ${agents} agent${agents === 1 ? '' : 's'}`;
  const what = agent ? `${kind} pid ${agent.pid} · v${agent.version} · up ${formatDuration(agent.uptimeMs)}${count}${stale ? ' (last seen)' : ''}` : 'agent —';
  return (
    <Text wrap="truncate-end">
      <Text bold color={accent(color)}>
        snakepit
      </Text>
      {`  ${what} · ${address}`}
    </Text>
  );
}
