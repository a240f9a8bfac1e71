// Throughput (calls/s between snapshots) with a sparkline of the recent history, and latency.
import { Text } from 'ink';
import type { AgentStats } from '../../client/types.js';
import { formatMs, formatRate, sparkline } from '../format.js';
import { accent } from './tone.js';

export interface RatesProps {
  readonly throughput: readonly number[];
  readonly latencyMs: AgentStats['latencyMs'];
  readonly color: boolean;
}

export function Rates({ throughput, latencyMs, color }: RatesProps) {
  const now = throughput.length ? throughput[throughput.length - 1]! : 0;
  return (
    <Text wrap="truncate-end">
      {`throughput ${formatRate(now).padStart(5)}/s `}
      <Text color={accent(color)}>{sparkline(throughput, 24).padEnd(24)}</Text>
      {`  latency p50 ${formatMs(latencyMs.p50)}  p99 ${formatMs(latencyMs.p99)}`}
    </Text>
  );
}
