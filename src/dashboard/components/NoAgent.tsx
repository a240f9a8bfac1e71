// Shown instead of the tables while no agent has answered yet: say so plainly and how to start one.
import { Box, Text } from 'ink';

export interface NoAgentProps {
  /** The AGENT_UNAVAILABLE message of the client: where it looked and the `snakepit up` to run. */
  readonly problem: string | null;
}

export function NoAgent({ problem }: NoAgentProps) {
  return (
    <Box flexDirection="column" marginTop={1}>
      <Text bold>No agent is running.</Text>
      <Text>{problem ?? 'start one with `snakepit up`'}</Text>
      <Text dimColor>The dashboard connects as soon as one starts.</Text>
    </Box>
  );
}
