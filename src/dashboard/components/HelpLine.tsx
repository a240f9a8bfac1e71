// The keys, always on the last line of the live area.
import { Box, Text } from 'ink';

export function HelpLine() {
  return (
    <Box marginTop={1}>
      <Text dimColor wrap="truncate-end">
        ↑/↓ select · r restart worker · d drain agent · q quit
      </Text>
    </Box>
  );
}
