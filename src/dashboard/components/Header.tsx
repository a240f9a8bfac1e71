// First line: what we watch (agent pid, version, uptime) and where it listens.
import { Text } from 'ink';
import type { AgentStats } from '../../client/types.js';
import { formatDuration } from '../format.js';
import { accent } from './tone.js';

export interface HeaderProps {
  readonly agent: AgentStats['agent'] | null;
  readonly address: string;
  readonly stale: boolean;
  readonly color: boolean;
}

export function Header({ agent, address, stale, color }: HeaderProps) {
  const what = agent ? `agent pid ${agent.pid} · v${agent.version} · up ${formatDuration(agent.uptimeMs)}${stale ? ' (last seen)' : ''}` : 'agent —';
  return (
    <Text wrap="truncate-end">
      <Text bold color={accent(color)}>
        snakepit
      </Text>
      {`  ${what} · ${address}`}
    </Text>
  );
}
