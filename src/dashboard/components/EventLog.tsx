// Recent events, printed once above the live area with <Static>: finished lines never redraw.
// <Static> prints the items past the count it has printed, so a list restarted at its cap gets a
// fresh <Static> (keyed by epoch) that prints the new list from its start.
import { Static, Text } from 'ink';
import { clockTime } from '../format.js';
import type { LogEntry } from '../state.js';
import { toneColor } from './tone.js';

export interface EventLogProps {
  readonly epoch: number;
  readonly entries: readonly LogEntry[];
  readonly color: boolean;
}

export function EventLog({ epoch, entries, color }: EventLogProps) {
  return (
    <Static key={epoch} items={entries as LogEntry[]}>
      {(e) => (
        <Text key={e.seq}>
          <Text dimColor>{clockTime(e.at)} </Text>
          <Text color={toneColor(e.tone, color)}>{e.text}</Text>
        </Text>
      )}
    </Static>
  );
}
