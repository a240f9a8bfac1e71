// The workers, one row each, the selected one marked while the arrows move in this table. Only
// the rows that fit are drawn (the window follows the selection); the rest are counted on one
// line. Behind a router it lists the selected agent's workers, under a caption naming it.
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
  /** The arrows move in this table (default true): only then is the selection marked. */
  readonly focused?: boolean;
  /** A line above the header (whose workers these are). */
  readonly caption?: string;
  /** What an empty table says (default "no workers"). */
  readonly empty?: string;
}

export function WorkerTable({ workers, selected, window, color, focused = true, caption, empty = 'no workers' }: WorkerTableProps) {
  const above = window.start;
  const below = workers.length - window.end;
  return (
    <Box flexDirection="column" marginTop={1}>
      {caption !== undefined ? <Text wrap="truncate-end">{`  ${caption}`}</Text> : null}
      <Text bold wrap="truncate-end">{`  ${tableLine(WORKER_COLUMNS.map(([h]) => h))}`}</Text>
      {workers.slice(window.start, window.end).map((w, i) => {
        const index = window.start + i;
        const mark = focused && index === selected;
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
      {workers.length === 0 ? <Text dimColor wrap="truncate-end">{`  ${empty}`}</Text> : null}
    </Box>
  );
}
