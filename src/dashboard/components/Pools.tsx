// Calls and queue depth, then one line per pool with its health.
import { Box, Text } from 'ink';
import type { AgentStats } from '../../client/types.js';
import { MAX_POOL_LINES } from '../format.js';
import { toneColor } from './tone.js';

export interface PoolsProps {
  readonly calls: AgentStats['calls'];
  readonly queue: AgentStats['queue'];
  readonly pools: AgentStats['pools'];
  readonly color: boolean;
}

export function Pools({ calls, queue, pools, color }: PoolsProps) {
  const shown = pools.length > MAX_POOL_LINES ? pools.slice(0, MAX_POOL_LINES) : pools;
  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end">
        {`calls ${calls.completed} ok · `}
        <Text color={calls.failed ? toneColor('bad', color) : undefined}>{`${calls.failed} failed`}</Text>
        {` · ${calls.inFlight} in flight · `}
        {calls.retries !== undefined ? `${calls.retries} retried · ` : ''}
        <Text color={queue.depth ? toneColor('warn', color) : undefined}>{`queue ${queue.depth}`}</Text>
      </Text>
      {shown.map((p) => (
        <Text key={p.name} wrap="truncate-end">
          {`pool ${p.name}  ${p.size} workers · ${p.tools} tools · ${p.affinity} · ${p.recycled} recycled · `}
          <Text color={toneColor(p.degraded ? 'bad' : 'good', color)}>{p.degraded ? `DEGRADED: ${p.degraded.split('\n')[0]}` : 'healthy'}</Text>
        </Text>
      ))}
      {pools.length > shown.length ? <Text>{`… ${pools.length - shown.length} more pools`}</Text> : null}
    </Box>
  );
}
