// The workers, one row each, the selected one marked. Only the rows that fit are drawn (the
// window follows the selection); the rest are counted on one line.
import { Box, Text } from 'ink';
import type { AgentStats } from '../../client/types.js';
import { WORKER_COLUMNS, cell, formatDuration, formatMiB, tableLine } from '../format.js';
import { accent, stateTone, toneColor } from './tone.js';

export interface WorkerTableProps {
  readonly workers: AgentStats['workers'];
  readonly selected: number;
  /** Rows [start, end) are drawn; `hidden` are not. */
  readonly window: { readonly start: number; readonly end: number; readonly hidden: number };
  readonly color: boolean;
}

export function WorkerTable({ workers, selected, window, color }: WorkerTableProps) {
  const above = window.start;
  const below = workers.length - window.end;
  return (
    <Box flexDirection="column" marginTop={1}>
      <Text bold wrap="truncate-end">{`  ${tableLine(WORKER_COLUMNS.map(([h]) => h))}`}</Text>
      {workers.slice(window.start, window.end).map((w, i) => {
        const index = window.start + i;
        const mark = index === selected;
        const rest = [String(w.inFlight), String(w.requests), String(w.restarts), String(w.recycles), formatMiB(w.rssBytes), formatDuration(w.uptimeMs)];
        return (
          <Text key={`${index}:${w.id}:${w.pid}`} wrap="truncate-end" color={mark ? accent(color) : undefined} bold={mark}>
            {`${mark ? '> ' : '  '}${cell(w.id, 0)}${cell(String(w.pid), 1)}`}
            <Text color={mark ? accent(color) : toneColor(stateTone(w.state), color)}>{cell(w.state, 2)}</Text>
            {rest.map((v, j) => cell(v, j + 3)).join('').trimEnd()}
          </Text>
        );
      })}
      {window.hidden > 0 ? <Text dimColor>{`  … ${window.hidden} more${above ? ` (${above} above, ${below} below)` : ''}`}</Text> : null}
      {workers.length === 0 ? <Text dimColor>  no workers</Text> : null}
    </Box>
  );
}
