// The keys, always on the last line of the live area. Behind a router they act on the selected
// agent, or on the selected worker once Tab moved the arrows into its table.
import { Box, Text } from 'ink';
import type { Focus } from '../state.js';

export interface HelpLineProps {
  /** Behind a router: which table the arrows move in. Absent for a single agent. */
  readonly focus?: Focus;
}

export function HelpLine({ focus }: HelpLineProps = {}) {
  const keys =
    focus === undefined
      ? '↑/↓ select · r restart worker · d drain agent · q quit'
      : focus === 'agents'
        ? '↑/↓ agent · tab its workers · c cordon · d drain agent · q quit'
        : '↑/↓ worker · tab agents · r restart worker · c cordon · d drain agent · q quit';
  return (
    <Box marginTop={1}>
      <Text dimColor wrap="truncate-end">
        {keys}
      </Text>
    </Box>
  );
}
